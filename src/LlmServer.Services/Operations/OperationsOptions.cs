namespace LlmServer.Services.Operations;

/// <summary>Configuration section LlmServer:Operations (keys, budgets, rate limits, ledger, metrics).</summary>
public sealed record OperationsOptions
{
    public const string SectionName = "LlmServer:Operations";

    /// <summary>When true, the ledger also stores request bodies (UsageRecord.Body). Off by default: no prompt text.</summary>
    public bool LogBodies { get; init; }

    /// <summary>
    /// Seconds an authenticated virtual key is cached per instance. A revoke or update is seen at once by the
    /// instance that made it, by the others within this time. 0 disables the cache.
    /// </summary>
    public int KeyCacheSeconds { get; init; } = 2;

    /// <summary>Usage ledger writer settings.</summary>
    public LedgerOptions Ledger { get; init; } = new();

    /// <summary>Rate limit settings.</summary>
    public RateLimitOptions RateLimits { get; init; } = new();

    /// <summary>Budget reservation settings.</summary>
    public BudgetOptions Budgets { get; init; } = new();
}

/// <summary>LlmServer:Operations:Ledger.</summary>
public sealed record LedgerOptions
{
    /// <summary>Rows held in memory before new rows are dropped (and counted as dropped).</summary>
    public int QueueCapacity { get; init; } = 100_000;

    /// <summary>Most rows written in one batch.</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Longest a row waits in memory before its batch is written.</summary>
    public int FlushIntervalMs { get; init; } = 500;
}

/// <summary>LlmServer:Operations:RateLimits.</summary>
public sealed record RateLimitOptions
{
    /// <summary>Requests served at once by this instance; 0 disables the limit.</summary>
    public int GlobalConcurrency { get; init; } = 512;

    /// <summary>Requests waiting for a slot once <see cref="GlobalConcurrency"/> is reached; more get 429.</summary>
    public int GlobalQueue { get; init; } = 128;

    /// <summary>Retry-After (seconds) given when the global queue is full.</summary>
    public int GlobalRetryAfterSeconds { get; init; } = 1;

    /// <summary>Where per-key rpm/tpm windows live: "auto" (Redis when REDIS_URL is set, else local), "local", "redis", "postgres".</summary>
    public string Backend { get; init; } = "auto";
}

/// <summary>LlmServer:Operations:Budgets.</summary>
public sealed record BudgetOptions
{
    /// <summary>Output tokens assumed for the worst case when a request sets no max tokens.</summary>
    public int DefaultMaxOutputTokens { get; init; } = 4096;

    /// <summary>
    /// What a reservation does for a model with no price while the key has a budget:
    /// "allow" (reserve nothing, the ledger shows cost null) or "deny".
    /// </summary>
    public string UnknownPrice { get; init; } = "allow";
}
