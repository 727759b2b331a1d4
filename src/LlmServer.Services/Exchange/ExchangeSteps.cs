using LlmServer.Services.Accounting;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Logging;

namespace LlmServer.Services.Exchange;

/// <summary>
/// The steps every API surface runs, written once: admit (allow-list, rate limits, budget reservation), begin
/// masking, record the one ledger row, settle the reservation. Refusals come back as catalogue entries
/// (<see cref="ExchangeErrors"/>), so the same situation answers alike everywhere.
/// </summary>
public sealed partial class ExchangeSteps(
    IRequestAdmission admission,
    IMaskingService masking,
    IUsageSink usageSink,
    ICostCalculator costs,
    TimeProvider time,
    ILogger<ExchangeSteps> logger)
{
    /// <summary>
    /// The conversation id of a request from its header value: null when absent; an error when it is not 1 to
    /// <see cref="ExchangeErrors.MaxSessionIdLength"/> printable ASCII characters (it keys stored history and
    /// vault scopes, so it is never silently cut or dropped).
    /// </summary>
    public static ExchangeError? CheckSessionId(string? value, string header, out string? sessionId)
    {
        sessionId = null;
        if (string.IsNullOrEmpty(value)) return null;
        if (!IsValidSessionId(value)) return ExchangeErrors.InvalidSessionId(header);
        sessionId = value;
        return null;
    }

    /// <summary>1 to 128 printable ASCII characters.</summary>
    public static bool IsValidSessionId(string value)
    {
        if (value.Length is 0 or > ExchangeErrors.MaxSessionIdLength) return false;
        foreach (var c in value)
        {
            if (c is < '!' or > '~') return false;
        }
        return true;
    }

    /// <summary>
    /// Admits the request or says why not. A limit store that cannot be asked refuses (fail closed). The client
    /// going away surfaces as <see cref="OperationCanceledException"/>.
    /// </summary>
    public async ValueTask<ExchangeError?> AdmitAsync(ExchangeState x, long promptTokens, long? maxOutputTokens, CancellationToken cancellationToken)
    {
        Admission admitted;
        try
        {
            admitted = await admission.AdmitAsync(x.VirtualKey, x.Model ?? "", promptTokens, maxOutputTokens, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // NOTE: the type only: a store's message can carry its connection string.
            LogAdmissionFailed(logger, e.GetType().Name);
            return ExchangeErrors.AdmissionUnavailable;
        }
        if (admitted.Admitted)
        {
            x.Ticket = admitted.Ticket;
            return null;
        }
        return admitted.Outcome switch
        {
            AdmissionOutcome.ModelNotAllowed => ExchangeErrors.ModelNotAllowed(x.Model ?? ""),
            AdmissionOutcome.BudgetExceeded => ExchangeErrors.BudgetExceeded(admitted.Message,
                admitted.RetryAfterSeconds > 0 ? admitted.RetryAfterSeconds : BudgetResetSeconds(x.VirtualKey)),
            _ => ExchangeErrors.RateLimited(admitted.RetryAfterSeconds, admitted.Message),
        };
    }

    /// <summary>Seconds until the key's shortest budget period starts again (UTC day or month); null for a total-only budget, which never resets.</summary>
    public long? BudgetResetSeconds(VirtualKey? key)
    {
        if (key is null) return null;
        var now = time.GetUtcNow();
        DateTimeOffset? next = key.Spec.Budget.DailyUsd is not null ? new DateTimeOffset(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero)
            : key.Spec.Budget.MonthlyUsd is not null ? new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1)
            : null;
        return next is { } n ? Math.Max(1, (long)Math.Ceiling((n - now).TotalSeconds)) : null;
    }

    /// <summary>Begins the request's masking session under the key's policy (else the route's), in the conversation's vault scope.</summary>
    public MaskingSession BeginMasking(ExchangeState x, MaskingRoute route, string? scopeKey = null)
    {
        var session = masking.BeginFor(route, x.VirtualKey?.Spec.MaskingPolicy, x.SessionId, scopeKey ?? x.LedgerKeyId);
        x.Masking = session;
        return session;
    }

    /// <summary>The catalogue entry of a masking failure (null when the exception is not one): a block by policy is the caller's; a vault that fails is the server's.</summary>
    public ExchangeError? MaskingError(Exception e, bool restoring = false)
    {
        switch (e)
        {
            case MaskingBlockedException blocked:
                return ExchangeErrors.SensitiveDataBlocked(blocked.Types);
            case MaskingFailedException:
                LogMaskingFailed(logger, restoring ? "restore" : "mask", e.GetType().Name);
                return restoring ? ExchangeErrors.RestoreUnavailable : ExchangeErrors.MaskingUnavailable;
            default:
                return null;
        }
    }

    /// <summary>Writes the request's one ledger row (later calls do nothing): status, error code, usage and its cost.</summary>
    public void Record(ExchangeState x, int status, string? errorCode)
    {
        if (x.Recorded) return;
        x.Recorded = true;
        var usage = x.Usage ?? default;
        var cost = CostOf(x);
        var masked = x.Masking?.Summary;
        usageSink.Record(new UsageRecord
        {
            Timestamp = time.GetUtcNow(),
            KeyId = x.LedgerKeyId,
            SessionId = x.SessionId,
            Route = x.Surface.LedgerRoute(),
            Model = string.IsNullOrEmpty(x.Model) ? null : x.Model,
            Upstream = x.Upstream,
            Status = status,
            InputTokens = usage.InputTokens,
            CachedTokens = usage.CachedTokens,
            CacheCreation5mTokens = usage.CacheCreation5mTokens,
            CacheCreation1hTokens = usage.CacheCreation1hTokens,
            OutputTokens = usage.OutputTokens,
            ReasoningTokens = usage.ReasoningTokens,
            CostUsd = x.ApiKeySource == "server" ? cost : null,
            ApiKeySource = x.ApiKeySource,
            LatencyMs = x.Elapsed.TotalMilliseconds,
            OverheadMs = x.Overhead?.Invoke() ?? 0,
            Stream = x.Stream,
            MaskedCounts = masked is { Total: > 0 } ? new Dictionary<string, int>(masked.Counts) : null,
            ErrorCode = errorCode,
        });
    }

    /// <summary>Marks a request that is not usage (a retrieval): it leaves no ledger row.</summary>
    public static void Skip(ExchangeState x) => x.Recorded = true;

    /// <summary>Records an error's ledger row.</summary>
    public void Record(ExchangeState x, ExchangeError error) => Record(x, error.Status, error.Code);

    /// <summary>
    /// Settles what admission reserved: a successful answer settles to its cost (at the reservation when the
    /// upstream reported no usage, so a budget never under-counts what it cannot see); anything else releases it.
    /// </summary>
    public async ValueTask SettleAsync(ExchangeState x, bool succeeded)
    {
        if (x.Ticket is not { } ticket) return;
        x.Ticket = null;
        try
        {
            if (succeeded && !x.Deferred)
            {
                var usage = x.Usage ?? default;
                decimal? cost = x.ApiKeySource != "server" ? 0m : x.Usage is null ? null : CostOf(x);
                await ticket.CompleteAsync(usage.InputTokens, usage.OutputTokens, cost, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await ticket.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogSettleFailed(logger, e.GetType().Name);
            await ticket.DisposeAsync().ConfigureAwait(false);
        }
    }

    private decimal? CostOf(ExchangeState x) =>
        x.Usage is { } u && (x.PricedModel ?? x.Model) is { Length: > 0 } model ? costs.Compute(model, u).Usd : null;

    [LoggerMessage(Level = LogLevel.Error, Message = "Admission (limits, budgets) failed ({Error}); the request was refused")]
    private static partial void LogAdmissionFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Masking failed while trying to {Step} ({Error}); the request was refused")]
    private static partial void LogMaskingFailed(ILogger logger, string step, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Settling an admission failed ({Error}); the reservation was released")]
    private static partial void LogSettleFailed(ILogger logger, string error);
}
