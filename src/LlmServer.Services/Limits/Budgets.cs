using System.Globalization;
using System.Text;
using LlmServer.Services.Keys;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Limits;

/// <summary>One budget period row of a key: "total", "m:2026-11" or "d:2026-11-21" (UTC), with its limit in nano-USD.</summary>
public readonly record struct BudgetWindow(string Period, long LimitNanoUsd);

/// <summary>
/// Spent and reserved amounts per key and period, shared by every instance. Amounts are integer nano-USD
/// (1e-9 USD) so comparisons are exact.
/// </summary>
public interface IBudgetStore
{
    /// <summary>
    /// Atomically adds <paramref name="amountNanoUsd"/> to the reserved amount of every window, or to none when
    /// any window would exceed its limit (spent + reserved + amount &gt; limit). True when reserved.
    /// </summary>
    Task<bool> TryReserveAsync(string keyId, IReadOnlyList<BudgetWindow> windows, long amountNanoUsd, CancellationToken cancellationToken);

    /// <summary>Removes a reservation and adds the real cost to spent (0 releases a failed request's reservation).</summary>
    Task SettleAsync(string keyId, IReadOnlyList<string> periods, long reservedNanoUsd, long actualNanoUsd, CancellationToken cancellationToken);

    /// <summary>Spent and reserved of one period (null when no row).</summary>
    Task<(long SpentNanoUsd, long ReservedNanoUsd)?> GetAsync(string keyId, string period, CancellationToken cancellationToken);
}

/// <summary>A held reservation; settle it with the real cost or release it.</summary>
public sealed record BudgetReservation(string KeyId, IReadOnlyList<string> Periods, long AmountNanoUsd, decimal AmountUsd);

/// <summary>The outcome of a reservation.</summary>
public sealed record BudgetDecision(bool Allowed, BudgetReservation? Reservation, string? Message)
{
    public static readonly BudgetDecision NoBudget = new(true, null, null);
}

/// <summary>Reserves a request's worst-case cost against a key's budgets before the upstream call and settles after.</summary>
public interface IBudgetService
{
    /// <summary>
    /// Reserves prompt estimate + <paramref name="maxOutputTokens"/> (or the configured default) at the model's price.
    /// Not allowed -> the caller answers 429 with <see cref="BudgetDecision.Message"/>.
    /// </summary>
    Task<BudgetDecision> ReserveAsync(VirtualKey key, string model, long promptTokens, long? maxOutputTokens, CancellationToken cancellationToken);

    /// <summary>Settles to the real cost (null when unknown: the reservation is kept as spent, the safe side).</summary>
    Task SettleAsync(BudgetReservation reservation, decimal? actualUsd, CancellationToken cancellationToken);

    /// <summary>Releases a reservation of a request that failed before the upstream charged anything.</summary>
    Task ReleaseAsync(BudgetReservation reservation, CancellationToken cancellationToken);
}

/// <inheritdoc />
public sealed class BudgetService(
    IBudgetStore store,
    ICostCalculator costs,
    IOptions<OperationsOptions> options,
    LlmServerMetrics metrics,
    TimeProvider time) : IBudgetService
{
    /// <summary>Nano-USD per USD.</summary>
    public const decimal NanoPerUsd = 1_000_000_000m;

    /// <inheritdoc />
    public async Task<BudgetDecision> ReserveAsync(VirtualKey key, string model, long promptTokens, long? maxOutputTokens, CancellationToken cancellationToken)
    {
        var budget = key.Spec.Budget;
        if (!budget.Any)
        {
            return BudgetDecision.NoBudget;
        }
        var output = maxOutputTokens is > 0 ? maxOutputTokens.Value : options.Value.Budgets.DefaultMaxOutputTokens;
        decimal worstCase;
        if (costs.TryGetPrice(model, out var price))
        {
            // Worst case: no prompt cache hit, every allowed output token used.
            worstCase = (promptTokens * price.Input + output * price.Output) / 1_000_000m;
        }
        else if (string.Equals(options.Value.Budgets.UnknownPrice, "deny", StringComparison.OrdinalIgnoreCase))
        {
            metrics.RecordBudgetRejected();
            return new BudgetDecision(false, null, $"Model '{model}' has no price, so key budgets cannot be enforced for it.");
        }
        else
        {
            worstCase = 0;
        }
        var windows = Windows(budget, time.GetUtcNow());
        var amount = ToNano(worstCase);
        if (!await store.TryReserveAsync(key.Id, windows, amount, cancellationToken).ConfigureAwait(false))
        {
            metrics.RecordBudgetRejected();
            return new BudgetDecision(false, null,
                $"Budget exceeded for this key: the request could cost up to ${worstCase.ToString("0.######", CultureInfo.InvariantCulture)}, more than what is left.");
        }
        return new BudgetDecision(true, new BudgetReservation(key.Id, windows.Select(w => w.Period).ToArray(), amount, worstCase), null);
    }

    /// <inheritdoc />
    public Task SettleAsync(BudgetReservation reservation, decimal? actualUsd, CancellationToken cancellationToken) =>
        store.SettleAsync(reservation.KeyId, reservation.Periods, reservation.AmountNanoUsd,
            actualUsd is decimal usd ? ToNano(usd) : reservation.AmountNanoUsd, cancellationToken);

    /// <inheritdoc />
    public Task ReleaseAsync(BudgetReservation reservation, CancellationToken cancellationToken) =>
        store.SettleAsync(reservation.KeyId, reservation.Periods, reservation.AmountNanoUsd, 0, cancellationToken);

    /// <summary>The budget windows of a key at <paramref name="now"/> (UTC periods).</summary>
    public static IReadOnlyList<BudgetWindow> Windows(KeyBudget budget, DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        var list = new List<BudgetWindow>(3);
        if (budget.TotalUsd is decimal total)
        {
            list.Add(new BudgetWindow("total", ToNano(total)));
        }
        if (budget.MonthlyUsd is decimal monthly)
        {
            list.Add(new BudgetWindow("m:" + utc.ToString("yyyy-MM", CultureInfo.InvariantCulture), ToNano(monthly)));
        }
        if (budget.DailyUsd is decimal daily)
        {
            list.Add(new BudgetWindow("d:" + utc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ToNano(daily)));
        }
        return list;
    }

    /// <summary>USD to nano-USD, rounded up (a reservation never undershoots).</summary>
    public static long ToNano(decimal usd) => (long)decimal.Ceiling(usd * NanoPerUsd);
}
