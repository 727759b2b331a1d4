using LlmServer.Services.Transport;
using LlmServer.Services.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmServer.Api.Operations;

/// <summary>
/// The gateway's part of /health: an upstream is configured, the default model is routable, model discovery
/// works, and the default model has a deployment whose circuit is closed. Never calls a paid provider.
/// </summary>
internal sealed class GatewayHealthCheck(IModelRouter router, IUpstreamForwarder forwarder) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["upstreams"] = router.Upstreams.Count,
            ["models"] = router.Models.Count,
        };
        if (router.Upstreams.Count == 0)
        {
            // NOTE: degraded, not unhealthy: a server started with no configuration is alive (system API, docs)
            // and says what to configure; liveness probes must not restart it for that.
            return Task.FromResult(HealthCheckResult.Degraded(
                "gateway: no upstream configured (set OPENAI_API_KEY, VLLM_BASE_URL or LlmServer:Gateway:Upstreams)", data: data));
        }
        if (router.DiscoveryFailures.Count > 0)
        {
            var names = string.Join(", ", router.DiscoveryFailures.Keys);
            return Task.FromResult(HealthCheckResult.Unhealthy($"gateway: upstream(s) {names} unreachable (model discovery failed)", data: data));
        }
        if (!router.TryResolve(null, out var route))
        {
            return Task.FromResult(HealthCheckResult.Degraded($"gateway: default model `{router.DefaultModel}` is not routable", data: data));
        }
        var anyClosed = false;
        for (var i = 0; i < route.Count; i++) anyClosed |= !forwarder.IsOpen(route.At(i));
        return Task.FromResult(anyClosed
            ? HealthCheckResult.Healthy("gateway: ok", data)
            : HealthCheckResult.Unhealthy($"gateway: every deployment of `{router.DefaultModel}` has its circuit open", data: data));
    }
}
