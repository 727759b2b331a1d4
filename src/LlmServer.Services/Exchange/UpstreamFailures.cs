using LlmServer.Services.Transport;

namespace LlmServer.Services.Exchange;

/// <summary>What the client is told when the transport gave up: one mapping for every API.</summary>
public static class UpstreamFailures
{
    /// <summary>
    /// The catalogue entry of a failed upstream call (null for <see cref="UpstreamOutcome.Ok"/>,
    /// <see cref="UpstreamOutcome.ClientError"/> and a client that went away: those are relayed or recorded, not answered).
    /// </summary>
    public static ExchangeError? ErrorOf(UpstreamResult result, string model) => result.Outcome switch
    {
        UpstreamOutcome.Timeout => ExchangeErrors.UpstreamTimeout,
        UpstreamOutcome.RateLimited => ExchangeErrors.UpstreamRateLimited(model, Seconds(result.RetryAfter)),
        UpstreamOutcome.UpstreamError => ExchangeErrors.UpstreamFailed(result.UpstreamStatus),
        UpstreamOutcome.CircuitOpen => ExchangeErrors.UpstreamUnavailable(model, Seconds(result.RetryAfter) ?? 1),
        UpstreamOutcome.Unreachable => ExchangeErrors.UpstreamUnreachable,
        UpstreamOutcome.Unsupported => ExchangeErrors.ModelNotSupported(model, $"The model `{model}` cannot be served on this API by its upstream."),
        _ => null,
    };

    private static long? Seconds(TimeSpan? span) => span is { } s ? Math.Max(1, (long)Math.Ceiling(s.TotalSeconds)) : null;
}
