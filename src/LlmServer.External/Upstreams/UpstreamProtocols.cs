using LlmServer.Services.Transport;
using System.Net.Http.Headers;
using LlmServer.Services.Routing;

namespace LlmServer.External.Upstreams;

/// <summary>
/// How to talk to one kind of upstream. The forwarder asks for the protocol by <see cref="Kind"/>; a
/// translating handler (Anthropic for OpenAI-wire requests) plugs in by registering another.
/// </summary>
public interface IUpstreamProtocol
{
    /// <summary>openai, azure_openai, openai_compatible or anthropic.</summary>
    string Kind { get; }

    /// <summary>True when OpenAI-wire request bodies can be forwarded as they are.</summary>
    bool SpeaksOpenAiWire { get; }

    /// <summary>Adds the upstream's credentials to an outgoing request.</summary>
    void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream);

    /// <summary>Where an API path (chat/completions, responses/{id}) of a deployment is served: under the base URL.</summary>
    Uri RequestUri(UpstreamDefinition upstream, string upstreamModel, string path) => new(upstream.BaseUrl + "/" + path);
}

/// <summary>OpenAI and OpenAI-compatible servers (vLLM, Ollama, LM Studio): Bearer key.</summary>
internal sealed class OpenAiProtocol(string kind) : IUpstreamProtocol
{
    public string Kind { get; } = kind;
    public bool SpeaksOpenAiWire => true;

    public void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream)
    {
        if (upstream.ApiKey is { } key) headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
    }
}

/// <summary>Azure OpenAI: api-key header, deployment name as model, v1 or classic paths (<see cref="AzureOpenAiUpstream.RequestUri"/>).</summary>
internal sealed class AzureOpenAiProtocol : IUpstreamProtocol
{
    public string Kind => UpstreamKinds.AzureOpenAi;
    public bool SpeaksOpenAiWire => true;

    public void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream)
    {
        if (upstream.ApiKey is { } key) headers.TryAddWithoutValidation("api-key", key);
    }

    public Uri RequestUri(UpstreamDefinition upstream, string upstreamModel, string path) =>
        AzureOpenAiUpstream.RequestUri(upstream, upstreamModel, path);
}

/// <summary>Anthropic Messages: registered here; OpenAI-wire requests need the translating handler.</summary>
internal sealed class AnthropicProtocol : IUpstreamProtocol
{
    public string Kind => UpstreamKinds.Anthropic;
    public bool SpeaksOpenAiWire => false;

    public void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream)
    {
        if (upstream.ApiKey is { } key) headers.TryAddWithoutValidation("x-api-key", key);
        // NOTE: a client's own anthropic-version (sent with the request) wins; this is the default.
        if (!headers.Contains("anthropic-version")) headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
    }
}

/// <summary>Looks up the protocol for a kind (last registration wins, so a later handler can replace one).</summary>
public sealed class UpstreamProtocols
{
    private readonly Dictionary<string, IUpstreamProtocol> _byKind = new(StringComparer.Ordinal);

    public UpstreamProtocols(IEnumerable<IUpstreamProtocol> protocols)
    {
        foreach (var p in protocols) _byKind[p.Kind] = p;
    }

    public IUpstreamProtocol? For(string kind) => _byKind.GetValueOrDefault(kind);
}
