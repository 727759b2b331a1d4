using LlmServer.Services.Transport;
using System.Collections.Concurrent;
using System.Net;
using LlmServer.Services.Routing;

namespace LlmServer.External.Upstreams;

/// <summary>One tuned <see cref="SocketsHttpHandler"/> (connection pool) per upstream.</summary>
public sealed class UpstreamHttpClients : IDisposable
{
    private readonly ConcurrentDictionary<string, HttpMessageInvoker> _clients = new(StringComparer.Ordinal);

    /// <summary>The invoker for an upstream, created on first use.</summary>
    public HttpMessageInvoker For(UpstreamDefinition upstream) =>
        _clients.GetOrAdd(upstream.Name, static (_, u) => new HttpMessageInvoker(CreateHandler(u), disposeHandler: true), upstream);

    /// <summary>As YARP's ForwarderHttpClientFactory: no proxy, no redirects, no decompression, no cookies.</summary>
    internal static SocketsHttpHandler CreateHandler(UpstreamDefinition upstream) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = upstream.ConnectTimeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        MaxConnectionsPerServer = upstream.MaxConnections,
        EnableMultipleHttp2Connections = true,
        ActivityHeadersPropagator = null,
        // NOTE: an abandoned answer (client gone, stream error) closes its connection at once instead of being
        // drained, so the upstream stops generating tokens nobody will read.
        MaxResponseDrainSize = 0,
    };

    public void Dispose()
    {
        foreach (var c in _clients.Values) c.Dispose();
        _clients.Clear();
    }
}
