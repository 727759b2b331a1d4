using LlmServer.Services.Routing;

namespace LlmServer.Services.Transport;

/// <summary>Sends a request to a model's deployments with retry and per-deployment circuit breakers.</summary>
public interface IUpstreamForwarder
{
    /// <summary>
    /// Sends until a response worth relaying arrives (2xx or a non-retryable 4xx) or the policy gives up.
    /// Nothing reached the client yet, so retries are safe. Never throws for upstream failures.
    /// </summary>
    ValueTask<UpstreamResult> SendAsync(UpstreamRequest request, ModelRoute route, CancellationToken clientAborted);

    /// <summary>True when the deployment's circuit is open (for /health).</summary>
    bool IsOpen(Deployment deployment);
}
