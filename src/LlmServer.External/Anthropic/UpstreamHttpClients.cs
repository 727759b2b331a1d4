using System.Collections.Concurrent;
using System.Net;

namespace LlmServer.External.Anthropic;

/// <summary>
/// One shared <see cref="HttpClient"/> per upstream base URL, each on its own tuned <see cref="SocketsHttpHandler"/>
/// (no proxy, no redirects, no decompression, no cookies, pooled connections, connect timeout), as YARP does.
/// Timeouts are the caller's: the client itself never times out, so long streams are not cut.
/// </summary>
public sealed class UpstreamHttpClients : IDisposable
{
    private readonly ConcurrentDictionary<string, HttpClient> _clients = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The client for <paramref name="baseUrl"/> (created once).</summary>
    public HttpClient For(string baseUrl) => _clients.GetOrAdd(Authority(baseUrl), static _ => Create());

    /// <summary>POST target of the Anthropic Messages API under a base URL given with or without /v1.</summary>
    public static Uri MessagesUri(string baseUrl, bool countTokens = false)
    {
        var b = baseUrl.TrimEnd('/');
        var v1 = b.EndsWith("/v1", StringComparison.OrdinalIgnoreCase) ? b : b + "/v1";
        return new Uri(v1 + (countTokens ? "/messages/count_tokens" : "/messages"));
    }

    /// <summary>POST target of chat.completions: base URLs carry their API prefix (…/v1); a bare host gets /v1.</summary>
    public static Uri ChatCompletionsUri(string baseUrl)
    {
        var b = baseUrl.TrimEnd('/');
        var uri = new Uri(b);
        return new Uri(uri.AbsolutePath is "" or "/" ? b + "/v1/chat/completions" : b + "/chat/completions");
    }

    private static string Authority(string baseUrl) => new Uri(baseUrl).GetLeftPart(UriPartial.Authority);

    private static HttpClient Create() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(15),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        EnableMultipleHttp2Connections = true,
        // An abandoned answer (client gone, stream error) closes its connection at once instead of being drained,
        // so the upstream stops generating tokens nobody will read.
        MaxResponseDrainSize = 0,
    }, disposeHandler: true)
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var c in _clients.Values) c.Dispose();
        _clients.Clear();
    }
}
