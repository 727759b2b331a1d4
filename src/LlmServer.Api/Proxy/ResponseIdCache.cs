using System.Collections.Concurrent;
using LlmServer.Services.Routing;

namespace LlmServer.Api.Proxy;

/// <summary>Which deployment created a Responses API object, so GET /v1/responses/{id} goes back there. Bounded.</summary>
internal sealed class ResponseIdCache
{
    private const int Capacity = 10_000;
    private readonly ConcurrentDictionary<string, Deployment> _ids = new(StringComparer.Ordinal);

    public void Remember(string id, Deployment deployment)
    {
        // NOTE: a crude bound; losing an entry only sends the GET to the default model's upstream.
        if (_ids.Count >= Capacity) _ids.Clear();
        _ids[id] = deployment;
    }

    public bool TryGet(string id, out Deployment deployment) => _ids.TryGetValue(id, out deployment!);
}
