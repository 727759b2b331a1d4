using System.Text.Json.Serialization;

namespace LlmServer.Dto.Operations;

/// <summary>Budgets in USD per period; null means no limit for that period.</summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record KeyBudgetDto
{
    /// <summary>Lifetime budget in USD.</summary>
    public decimal? TotalUsd { get; init; }
    /// <summary>Budget per UTC calendar month in USD.</summary>
    public decimal? MonthlyUsd { get; init; }
    /// <summary>Budget per UTC day in USD.</summary>
    public decimal? DailyUsd { get; init; }
}

// NOTE: a misspelt field ("models" for allowed_models) would silently leave the key unrestricted; refuse it.
/// <summary>Create a virtual key (every field optional), or update one (fields present replace the stored ones).</summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record KeyRequestDto
{
    /// <summary>A label for people ("mobile app", "team-a").</summary>
    public string? Name { get; init; }
    /// <summary>Models the key may call; empty or absent: every model.</summary>
    public List<string>? AllowedModels { get; init; }
    /// <summary>Budgets per period (replaces all three when present).</summary>
    public KeyBudgetDto? Budget { get; init; }
    /// <summary>Requests per minute (0 removes the limit on update).</summary>
    public int? Rpm { get; init; }
    /// <summary>Tokens per minute (0 removes the limit on update).</summary>
    public long? Tpm { get; init; }
    /// <summary>Masking policy for this key's Anthropic-compatible calls; absent follows the server's.</summary>
    public string? MaskingPolicy { get; init; }
    /// <summary>Free-form string pairs (owner, team ...). Never put secrets here.</summary>
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>Spent and reserved USD of one budget period.</summary>
public sealed record KeySpendDto
{
    /// <summary>Period id: "total", "m:yyyy-MM" or "d:yyyy-MM-dd" (UTC).</summary>
    public required string Period { get; init; }
    public decimal LimitUsd { get; init; }
    public decimal SpentUsd { get; init; }
    /// <summary>Worst-case cost of requests in flight.</summary>
    public decimal ReservedUsd { get; init; }
}

/// <summary>A virtual key as the admin API shows it: never the key, only its prefix.</summary>
public sealed record KeyDto
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    /// <summary>The key's first characters, to recognise it.</summary>
    public required string KeyPrefix { get; init; }
    public required List<string> AllowedModels { get; init; }
    public required KeyBudgetDto Budget { get; init; }
    public int? Rpm { get; init; }
    public long? Tpm { get; init; }
    public string? MaskingPolicy { get; init; }
    public required Dictionary<string, string> Metadata { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }
    /// <summary>Current spend per budget period.</summary>
    public List<KeySpendDto>? Spend { get; init; }
}

/// <summary>The answer to a create: the key itself, shown this once.</summary>
public sealed record CreatedKeyDto
{
    /// <summary>The virtual key. Store it now: the server keeps only its hash.</summary>
    public required string Key { get; init; }
    public required KeyDto Info { get; init; }
}

/// <summary>Totals of one group.</summary>
public sealed record UsageGroupDto
{
    /// <summary>Key id, model, UTC day (yyyy-MM-dd) or session id; null for rows without one.</summary>
    public string? Group { get; init; }
    public long Requests { get; init; }
    public long Errors { get; init; }
    public long InputTokens { get; init; }
    /// <summary>Prompt tokens read from the prompt cache (part of InputTokens).</summary>
    public long CachedTokens { get; init; }
    /// <summary>Prompt tokens written to Anthropic's 5-minute prompt cache (part of InputTokens).</summary>
    [JsonPropertyName("cache_creation_5m_tokens")]
    public long CacheCreation5mTokens { get; init; }
    /// <summary>Prompt tokens written to Anthropic's 1-hour prompt cache (part of InputTokens).</summary>
    [JsonPropertyName("cache_creation_1h_tokens")]
    public long CacheCreation1hTokens { get; init; }
    public long OutputTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public decimal CostUsd { get; init; }
    public double AvgLatencyMs { get; init; }
}

/// <summary>GET /api/v1/usage.</summary>
public sealed record UsageReportDto
{
    public DateTimeOffset From { get; init; }
    public DateTimeOffset To { get; init; }
    public required string GroupBy { get; init; }
    public required List<UsageGroupDto> Groups { get; init; }
    /// <summary>All groups together.</summary>
    public required UsageGroupDto Total { get; init; }
}

/// <summary>One ledger row.</summary>
public sealed record UsageRequestDto
{
    public long Id { get; init; }
    public DateTimeOffset Timestamp { get; init; }
    public string? KeyId { get; init; }
    public string? SessionId { get; init; }
    public required string Route { get; init; }
    public string? Model { get; init; }
    public string? Upstream { get; init; }
    public int Status { get; init; }
    public long InputTokens { get; init; }
    /// <summary>Prompt tokens read from the prompt cache (part of InputTokens).</summary>
    public long CachedTokens { get; init; }
    /// <summary>Prompt tokens written to Anthropic's 5-minute prompt cache (part of InputTokens).</summary>
    [JsonPropertyName("cache_creation_5m_tokens")]
    public long CacheCreation5mTokens { get; init; }
    /// <summary>Prompt tokens written to Anthropic's 1-hour prompt cache (part of InputTokens).</summary>
    [JsonPropertyName("cache_creation_1h_tokens")]
    public long CacheCreation1hTokens { get; init; }
    public long OutputTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public decimal? CostUsd { get; init; }
    public string? ApiKeySource { get; init; }
    public double LatencyMs { get; init; }
    public double OverheadMs { get; init; }
    public bool Stream { get; init; }
    public Dictionary<string, int>? MaskedCounts { get; init; }
    public string? ErrorCode { get; init; }
}

/// <summary>GET /api/v1/usage/requests: newest first.</summary>
public sealed record UsageRequestsPageDto
{
    public required List<UsageRequestDto> Data { get; init; }
    /// <summary>Pass as ?cursor= for the next (older) page; null on the last page.</summary>
    public string? NextCursor { get; init; }
}

/// <summary>The session API's success envelope for operations endpoints.</summary>
public sealed record OkDto<T>(T Data)
{
    public bool Success { get; init; } = true;
}
