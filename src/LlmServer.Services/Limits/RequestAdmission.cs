using LlmServer.Services.Keys;
using LlmServer.Services.Metrics;

namespace LlmServer.Services.Limits;

/// <summary>Why a request was not admitted.</summary>
public enum AdmissionOutcome
{
    Admitted,
    /// <summary>The key may not call this model (403 in the API's dialect).</summary>
    ModelNotAllowed,
    /// <summary>rpm, tpm or the global concurrency queue (429 with Retry-After).</summary>
    RateLimited,
    /// <summary>The worst-case cost could not be reserved (429 with a budget message).</summary>
    BudgetExceeded,
}

/// <summary>The admission of one request. When admitted, <see cref="Ticket"/> must be completed or disposed.</summary>
public sealed record Admission(AdmissionOutcome Outcome, string? Message, int RetryAfterSeconds, AdmissionTicket? Ticket)
{
    public bool Admitted => Outcome == AdmissionOutcome.Admitted;
}

/// <summary>
/// Holds what an admitted request took (a global concurrency slot, a budget reservation). Complete it with the
/// real usage after the upstream call; disposing without completing releases the reservation (request failed).
/// </summary>
public sealed class AdmissionTicket : IAsyncDisposable
{
    private readonly IDisposable? _lease;
    private readonly IBudgetService _budgets;
    private readonly IKeyRateLimiter _rateLimiter;
    private readonly long _estimatedTokens;
    private int _done;

    internal AdmissionTicket(VirtualKey? key, IDisposable? lease, BudgetReservation? reservation, IBudgetService budgets, IKeyRateLimiter rateLimiter, long estimatedTokens)
    {
        Key = key;
        _lease = lease;
        Reservation = reservation;
        _budgets = budgets;
        _rateLimiter = rateLimiter;
        _estimatedTokens = estimatedTokens;
    }

    /// <summary>The caller's virtual key (null for master key / unauthenticated local use).</summary>
    public VirtualKey? Key { get; }

    /// <summary>The budget reservation held, if the key has budgets.</summary>
    public BudgetReservation? Reservation { get; }

    /// <summary>Settles the reservation to <paramref name="actualCostUsd"/> and counts the real tokens in the tpm window.</summary>
    public async Task CompleteAsync(long inputTokens, long outputTokens, decimal? actualCostUsd, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return;
        }
        try
        {
            if (Reservation is not null)
            {
                await _budgets.SettleAsync(Reservation, actualCostUsd, cancellationToken).ConfigureAwait(false);
            }
            if (Key is { Spec.Tpm: not null })
            {
                await _rateLimiter.AddTokensAsync(Key.Id, inputTokens + outputTokens - _estimatedTokens, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _lease?.Dispose();
        }
    }

    /// <summary>Releases everything of a request that did not complete.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return;
        }
        try
        {
            if (Reservation is not null)
            {
                await _budgets.ReleaseAsync(Reservation, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            _lease?.Dispose();
        }
    }
}

/// <summary>The one call an API surface makes before its upstream call: model allow-list, rate limits, budget.</summary>
public interface IRequestAdmission
{
    Task<Admission> AdmitAsync(VirtualKey? key, string model, long promptTokens, long? maxOutputTokens, CancellationToken cancellationToken);
}

/// <inheritdoc />
public sealed class RequestAdmission(
    GlobalConcurrencyLimiter concurrency,
    IKeyRateLimiter rateLimiter,
    IBudgetService budgets,
    LlmServerMetrics metrics) : IRequestAdmission
{
    /// <inheritdoc />
    public async Task<Admission> AdmitAsync(VirtualKey? key, string model, long promptTokens, long? maxOutputTokens, CancellationToken cancellationToken)
    {
        if (key is not null && !key.AllowsModel(model))
        {
            return new Admission(AdmissionOutcome.ModelNotAllowed, $"This key may not use model '{model}'.", 0, null);
        }
        if (key is not null)
        {
            var rate = await rateLimiter.TryAcquireAsync(key.Id, key.Spec.Rpm, key.Spec.Tpm, promptTokens, cancellationToken).ConfigureAwait(false);
            if (!rate.Allowed)
            {
                metrics.RecordRateLimited(rate.Reason ?? "rate");
                return new Admission(AdmissionOutcome.RateLimited, $"Rate limit reached for this key ({rate.Reason}); retry after {rate.RetryAfterSeconds} s.", rate.RetryAfterSeconds, null);
            }
        }
        var (lease, decision) = await concurrency.AcquireAsync(cancellationToken).ConfigureAwait(false);
        if (!decision.Allowed)
        {
            return new Admission(AdmissionOutcome.RateLimited, "The server is at its concurrency limit; retry shortly.", decision.RetryAfterSeconds, null);
        }
        BudgetReservation? reservation = null;
        if (key is not null)
        {
            BudgetDecision budget;
            try
            {
                budget = await budgets.ReserveAsync(key, model, promptTokens, maxOutputTokens, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                lease?.Dispose();
                throw;
            }
            if (!budget.Allowed)
            {
                lease?.Dispose();
                return new Admission(AdmissionOutcome.BudgetExceeded, budget.Message, 0, null);
            }
            reservation = budget.Reservation;
        }
        return new Admission(AdmissionOutcome.Admitted, null, 0, new AdmissionTicket(key, lease, reservation, budgets, rateLimiter, promptTokens));
    }
}
