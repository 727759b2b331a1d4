using LlmServer.Services.Routing;

namespace LlmServer.Services.Chat;

/// <summary>
/// Where the session chat API's Responses calls go through the shared transport: the gateway's upstream of the same
/// name (so its timeouts, connection pool and per-deployment circuit breakers are the ones /v1 traffic uses), or,
/// when the gateway has none (no server key: callers bring their own), the same upstream resolved with the gateway's
/// default timeouts.
/// </summary>
public static class ChatUpstreamRoute
{
    /// <summary>
    /// The upstream definition, without credentials: the call carries the key the SDK put on it (the server's or the
    /// caller's own), so the transport never adds a second one.
    /// </summary>
    public static UpstreamDefinition Upstream(IModelRouter router, GatewayOptions gateway, string name, string kind, string baseUrl, string? apiVersion)
    {
        var configured = router.Upstreams.FirstOrDefault(u => string.Equals(u.Name, name, StringComparison.Ordinal));
        var upstream = configured ?? ModelRouter.Resolve(new UpstreamOptions { Name = name, Kind = kind, BaseUrl = baseUrl, ApiVersion = apiVersion }, gateway.Timeouts);
        return upstream with { ApiKey = null };
    }

    /// <summary>
    /// The route of one call: the model's single deployment on <paramref name="upstream"/>. Built per call, not
    /// cached: model names come from callers, and a cache keyed by them would grow without bound.
    /// </summary>
    public static ModelRoute For(UpstreamDefinition upstream, string upstreamModel) =>
        new(new ModelEntry(upstreamModel, [new Deployment(upstream, upstreamModel, 1)], null, 0), 0);
}
