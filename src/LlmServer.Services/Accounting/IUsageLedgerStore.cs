namespace LlmServer.Services.Accounting;

/// <summary>What <see cref="IUsageLedgerStore.QueryTotalsAsync"/> groups by.</summary>
public enum UsageGroupBy
{
    Key,
    Model,
    Day,
    Session,
}

/// <summary>Totals of one group over a time range.</summary>
public sealed record UsageTotals
{
    /// <summary>The group's value (key id, model, UTC day yyyy-MM-dd or session id); null when the rows had none.</summary>
    public string? Group { get; init; }
    public long Requests { get; init; }
    public long Errors { get; init; }
    public long InputTokens { get; init; }
    public long CachedTokens { get; init; }
    public long CacheCreation5mTokens { get; init; }
    public long CacheCreation1hTokens { get; init; }
    public long OutputTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public decimal CostUsd { get; init; }
    public double AvgLatencyMs { get; init; }
}

/// <summary>Totals of one time bucket (and group).</summary>
public sealed record UsageBucket(DateTimeOffset Start, UsageTotals Totals);

/// <summary>A stored ledger row with its id (ids grow with insertion order).</summary>
public sealed record StoredUsageRecord(long Id, UsageRecord Record);

/// <summary>The usage ledger: one row per request (SQLite by default, PostgreSQL when configured).</summary>
public interface IUsageLedgerStore
{
    /// <summary>Writes a batch of rows in one transaction.</summary>
    Task WriteBatchAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken);

    /// <summary>Totals grouped by <paramref name="groupBy"/> for rows with from &lt;= time &lt; to.</summary>
    Task<IReadOnlyList<UsageTotals>> QueryTotalsAsync(DateTimeOffset from, DateTimeOffset to, UsageGroupBy groupBy, string? keyId, CancellationToken cancellationToken);

    /// <summary>Newest rows first; <paramref name="beforeId"/> continues a previous page (keyset paging).</summary>
    Task<IReadOnlyList<StoredUsageRecord>> ListRecentAsync(int limit, long? beforeId, int offset, string? keyId, CancellationToken cancellationToken);

    /// <summary>
    /// Totals per time bucket (UTC-aligned, <paramref name="bucket"/> long) and, unless <paramref name="splitBy"/> is null,
    /// per key or model inside each bucket.
    /// </summary>
    Task<IReadOnlyList<UsageBucket>> QueryTimeSeriesAsync(DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, UsageGroupBy? splitBy, string? keyId, CancellationToken cancellationToken);

    /// <summary>Number of rows (used by tests and the status page).</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);
}
