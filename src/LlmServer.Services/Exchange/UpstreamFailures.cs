using LlmServer.Services.Transport;

namespace LlmServer.Services.Exchange;

/// <summary>What the transport's outcome means for the client, as a catalogue entry.</summary>
public static class UpstreamFailures
{
    /// <summary>
    /// The entry for an outcome that brought no answer to relay; null for an answer (2xx or a 4xx the upstream
    /// refused with) and for a client that went away (nobody to tell).
    /// </summary>
    public static ExchangeError? ErrorOf(UpstreamResult result, string model) => result.Outcome switch
    {
        UpstreamOutcome.Ok or UpstreamOutcome.ClientError or UpstreamOutcome.ClientAborted => null,
        UpstreamOutcome.Timeout => ExchangeErrors.UpstreamTimeout,
        UpstreamOutcome.RateLimited => ExchangeErrors.UpstreamRateLimited(model, Seconds(result.RetryAfter)),
        UpstreamOutcome.UpstreamError => ExchangeErrors.UpstreamFailed(result.UpstreamStatus),
        UpstreamOutcome.CircuitOpen => ExchangeErrors.UpstreamUnavailable(model, Seconds(result.RetryAfter) ?? 1),
        UpstreamOutcome.Unsupported => ExchangeErrors.ModelNotSupported(model, $"No deployment of the model `{model}` serves this API."),
        _ => ExchangeErrors.UpstreamUnreachable,
    };

    /// <summary>
    /// The entry for an answer that broke while its body was read: a timer fired (idle gap or total deadline), or
    /// the connection was lost, or it sent something that is no event stream. Null when the client went away.
    /// </summary>
    public static ExchangeError? BrokenBody(UpstreamResult result, Exception e) =>
        result.CancelledByClient ? null
        : e is OperationCanceledException ? ExchangeErrors.UpstreamStalled
        : e is InvalidDataException ? ExchangeErrors.UpstreamInvalidResponse
        : ExchangeErrors.UpstreamDisconnected;

    private static long? Seconds(TimeSpan? t) => t is { } v ? Math.Max(1, (long)Math.Ceiling(v.TotalSeconds)) : null;
}
