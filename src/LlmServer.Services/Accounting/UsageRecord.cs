namespace LlmServer.Services.Accounting;

/// <summary>One request's accounting row, on any API surface. Never holds prompt text or secrets.</summary>
public sealed record UsageRecord
{
    public DateTimeOffset Timestamp { get; init; }
    /// <summary>Virtual key id (never the key itself), or null.</summary>
    public string? KeyId { get; init; }
    public string? SessionId { get; init; }
    /// <summary>The route family: api_chat, chat_completions, completions, responses, embeddings, messages.</summary>
    public required string Route { get; init; }
    public string? Model { get; init; }
    public string? Upstream { get; init; }
    public int Status { get; init; }
    public long InputTokens { get; init; }
    /// <summary>Prompt tokens read from the prompt cache (part of <see cref="InputTokens"/>).</summary>
    public long CachedTokens { get; init; }
    /// <summary>Prompt tokens written to Anthropic's 5-minute prompt cache (part of <see cref="InputTokens"/>).</summary>
    public long CacheCreation5mTokens { get; init; }
    /// <summary>Prompt tokens written to Anthropic's 1-hour prompt cache (part of <see cref="InputTokens"/>).</summary>
    public long CacheCreation1hTokens { get; init; }
    public long OutputTokens { get; init; }
    public long ReasoningTokens { get; init; }
    /// <summary>Null when the price is unknown or a user's own key paid.</summary>
    public decimal? CostUsd { get; init; }
    /// <summary>"server" or "user": whose provider key paid.</summary>
    public string? ApiKeySource { get; init; }
    public double LatencyMs { get; init; }
    public double OverheadMs { get; init; }
    public bool Stream { get; init; }
    /// <summary>How many values were masked, per detector type (counts only).</summary>
    public IReadOnlyDictionary<string, int>? MaskedCounts { get; init; }
    public string? ErrorCode { get; init; }
    /// <summary>
    /// Request/response text for debugging. Dropped before it reaches the ledger unless
    /// LlmServer:Operations:LogBodies is true (off by default: the ledger never holds prompt text).
    /// </summary>
    public string? Body { get; init; }
}

/// <summary>
/// Non-blocking hand-off of usage rows from the hot path; the ledger consumes them in batches.
/// Implementations must never block or throw on <see cref="Record"/>.
/// </summary>
public interface IUsageSink
{
    void Record(UsageRecord record);
}

/// <summary>Used until a ledger is registered.</summary>
public sealed class NullUsageSink : IUsageSink
{
    public void Record(UsageRecord record)
    {
    }
}
