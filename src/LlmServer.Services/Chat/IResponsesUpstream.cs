using LlmServer.Services.Pricing;

namespace LlmServer.Services.Chat;

/// <summary>One message sent upstream as input.</summary>
/// <param name="Role">"user" or "assistant".</param>
/// <param name="Content">The message text.</param>
public sealed record UpstreamMessage(string Role, string Content);

/// <summary>A Responses-style call, already composed by <see cref="ChatService"/>.</summary>
public sealed record UpstreamRequest
{
    public required string Model { get; init; }
    public string? Instructions { get; init; }
    public required IReadOnlyList<UpstreamMessage> Input { get; init; }
    public int MaxOutputTokens { get; init; }
    public double Temperature { get; init; }
    public bool WebSearch { get; init; }
    public bool Background { get; init; }

    /// <summary>The caller's own key; null means the server's key.</summary>
    public string? UserApiKey { get; init; }

    /// <summary>Never print the caller's key.</summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Model = ").Append(Model).Append(", UserApiKey = ").Append(UserApiKey is null ? "null" : "***");
        return true;
    }
}

/// <summary>What the upstream answered (or the state of a background response).</summary>
public sealed record UpstreamResult
{
    public required string Id { get; init; }
    /// <summary>queued, in_progress, completed, failed, cancelled, incomplete.</summary>
    public required string Status { get; init; }
    public required string OutputText { get; init; }
    public required string Model { get; init; }
    public TokenUsage Usage { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public double? Temperature { get; init; }
    /// <summary>Upstream error message when the background response failed.</summary>
    public string? Error { get; init; }
}

/// <summary>One piece of a streamed answer: a text delta, or the final result.</summary>
public readonly record struct UpstreamStreamEvent(string? Delta, UpstreamResult? Completed);

/// <summary>
/// The OpenAI Responses API as the session chat API needs it. Implemented in External over the official SDK.
/// Failures surface as <see cref="Errors.LlmServerException"/> (Unauthorized, RateLimited, Unreachable, Timeout).
/// </summary>
public interface IResponsesUpstream
{
    /// <summary>True when the server's own key is configured.</summary>
    bool HasServerKey { get; }

    /// <summary>Upstream name in the usage ledger: "openai", or "azure" for an Azure OpenAI resource.</summary>
    string Name => "openai";

    /// <summary>Plain call; for background requests the result is queued and carries the id to poll.</summary>
    Task<UpstreamResult> CreateAsync(UpstreamRequest request, CancellationToken cancellationToken);

    /// <summary>Streamed call: text deltas, then exactly one event with <see cref="UpstreamStreamEvent.Completed"/>.</summary>
    IAsyncEnumerable<UpstreamStreamEvent> StreamAsync(UpstreamRequest request, CancellationToken cancellationToken);

    /// <summary>Polls a (background) response by id.</summary>
    Task<UpstreamResult> GetAsync(string responseId, string? userApiKey, CancellationToken cancellationToken);
}
