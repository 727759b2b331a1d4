using Dapper;
using LlmServer.Services.Limits;

namespace LlmServer.External.Operations;

/// <summary>
/// Budget rows (key, period) with spent and reserved nano-USD. A reservation is one conditional upsert per
/// period — <c>ON CONFLICT DO UPDATE ... WHERE spent + reserved + @amount &lt;= limit RETURNING</c> — inside one
/// transaction (read committed on PostgreSQL, whose row lock makes the condition re-check against the latest
/// committed row; BEGIN IMMEDIATE on SQLite, which holds the write lock for the whole check). Any period that
/// does not return a row rolls the whole reservation back, so concurrent requests on any number of instances
/// can never push spent + reserved above a limit.
/// </summary>
public sealed class SqlBudgetStore(OpsDatabase db) : IBudgetStore
{
    private const string ReserveSql = """
        INSERT INTO key_budgets AS b (key_id, period, limit_nano, spent_nano, reserved_nano)
        VALUES (@keyId, @period, @limit, 0, @amount)
        ON CONFLICT (key_id, period) DO UPDATE SET reserved_nano = b.reserved_nano + @amount, limit_nano = @limit
        WHERE b.spent_nano + b.reserved_nano + @amount <= @limit
        RETURNING reserved_nano
        """;

    public async Task<bool> TryReserveAsync(string keyId, IReadOnlyList<BudgetWindow> windows, long amountNanoUsd, CancellationToken cancellationToken)
    {
        if (windows.Count == 0)
        {
            return true;
        }
        if (windows.Any(w => amountNanoUsd > w.LimitNanoUsd))
        {
            return false; // the insert branch of the upsert has no condition, so refuse here.
        }
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        // NOTE: periods in a fixed order so two transactions never lock the same rows in opposite orders.
        foreach (var w in windows.OrderBy(w => w.Period, StringComparer.Ordinal))
        {
            var reserved = await c.QueryFirstOrDefaultAsync<long?>(new CommandDefinition(ReserveSql,
                new { keyId, period = w.Period, limit = w.LimitNanoUsd, amount = amountNanoUsd }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (reserved is null)
            {
                await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return false;
            }
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task SettleAsync(string keyId, IReadOnlyList<string> periods, long reservedNanoUsd, long actualNanoUsd, CancellationToken cancellationToken)
    {
        if (periods.Count == 0)
        {
            return;
        }
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        foreach (var period in periods.Order(StringComparer.Ordinal))
        {
            await c.ExecuteAsync(new CommandDefinition(
                $"UPDATE key_budgets SET reserved_nano = {db.Greatest("reserved_nano - @reserved", "0")}, spent_nano = spent_nano + @actual WHERE key_id = @keyId AND period = @period",
                new { keyId, period, reserved = reservedNanoUsd, actual = actualNanoUsd }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<(long SpentNanoUsd, long ReservedNanoUsd)?> GetAsync(string keyId, string period, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QueryFirstOrDefaultAsync<BudgetRow>(new CommandDefinition(
            "SELECT spent_nano AS Spent, reserved_nano AS Reserved FROM key_budgets WHERE key_id = @keyId AND period = @period", new { keyId, period }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null ? null : (row.Spent, row.Reserved);
    }

    private sealed class BudgetRow
    {
        public long Spent { get; set; }
        public long Reserved { get; set; }
    }
}
