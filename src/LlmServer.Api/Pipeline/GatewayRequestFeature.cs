using System.Diagnostics;
using LlmServer.Services.Auth;

namespace LlmServer.Api.Pipeline;

/// <summary>Per-request gateway state: the caller, and the clock that gives x-llmserver-overhead-ms.</summary>
public sealed class GatewayRequestFeature
{
    internal GatewayRequestFeature(long start) => Start = start;

    /// <summary>Stopwatch timestamp when the gateway took the request.</summary>
    public long Start { get; }

    /// <summary>Stopwatch ticks spent waiting on upstreams (excluded from the overhead).</summary>
    public long UpstreamTicks { get; set; }

    /// <summary>Who called (anonymous when the server runs open).</summary>
    public CallerIdentity Caller { get; set; } = CallerIdentity.Anonymous;

    /// <summary>Gateway time so far, upstream excluded.</summary>
    public double OverheadMs => Math.Max(0, Stopwatch.GetElapsedTime(Start).TotalMilliseconds - Stopwatch.GetElapsedTime(0, UpstreamTicks).TotalMilliseconds);
}
