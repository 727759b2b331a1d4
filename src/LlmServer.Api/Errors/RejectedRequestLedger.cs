using LlmServer.Api.Pipeline;
using System.Diagnostics;
using LlmServer.Services.Accounting;

namespace LlmServer.Api.Errors;

/// <summary>
/// The ledger row of a request refused before any API handled it (body too large, unsupported charset):
/// every request leaves one row, refusals included.
/// </summary>
internal static class RejectedRequestLedger
{
    public static void Record(HttpContext context, int status, string code)
    {
        var feature = context.Features.Get<GatewayRequestFeature>();
        var elapsed = feature is null ? 0 : Stopwatch.GetElapsedTime(feature.Start).TotalMilliseconds;
        context.RequestServices.GetService<IUsageSink>()?.Record(new UsageRecord
        {
            Timestamp = context.RequestServices.GetService<TimeProvider>()?.GetUtcNow() ?? DateTimeOffset.UtcNow,
            KeyId = feature?.Caller.LedgerKeyId,
            Route = RouteLabel.Of(context.Request.Path),
            Status = status,
            LatencyMs = elapsed,
            ErrorCode = code,
        });
    }
}
