using System.Text.Json.Serialization;

namespace LlmServer.Dto.Chat;

/// <summary>The answer of POST /api/v1/chat (and the final event of a stream, and a background poll).</summary>
public sealed record ChatResponse
{
    /// <summary>Always true here; failures use the error body.</summary>
    [JsonPropertyName("success")]
    public bool Success { get; init; } = true;

    /// <summary>The session id of the request, if any.</summary>
    /// <example>unique_session_id</example>
    [JsonPropertyName("session_id")]
    public string? SessionId { get; init; }

    /// <summary>The model's answer (empty while a background response is still running).</summary>
    /// <example>Python은 읽기 쉬운 문법을 가진 고수준 언어입니다.</example>
    [JsonPropertyName("output_text")]
    public string OutputText { get; init; } = "";

    /// <summary>The model that answered, as the upstream reported it.</summary>
    /// <example>gpt-4o-mini</example>
    [JsonPropertyName("model")]
    public string Model { get; init; } = "";

    /// <summary>Input tokens, cached ones included.</summary>
    [JsonPropertyName("input_tokens")]
    public long InputTokens { get; init; }

    /// <summary>Input tokens served from the prompt cache.</summary>
    [JsonPropertyName("cached_tokens")]
    public long CachedTokens { get; init; }

    /// <summary>Output tokens.</summary>
    [JsonPropertyName("output_tokens")]
    public long OutputTokens { get; init; }

    /// <summary>Input plus output tokens.</summary>
    [JsonPropertyName("total_tokens")]
    public long TotalTokens { get; init; }

    /// <summary>Cost in USD from the pricing table; null when the model has no configured price.</summary>
    [JsonPropertyName("cost_usd")]
    public decimal? CostUsd { get; init; }

    /// <summary>Cost in KRW, when LlmServer:Pricing:KrwPerUsd is configured.</summary>
    [JsonPropertyName("cost_krw")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public decimal? CostKrw { get; init; }

    /// <summary>Why cost_usd is null (unknown price).</summary>
    [JsonPropertyName("cost_warning")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CostWarning { get; init; }

    /// <summary>Time from request to answer, in milliseconds.</summary>
    [JsonPropertyName("response_time_ms")]
    public double ResponseTimeMs { get; init; }

    /// <summary>Whose key paid: "user" or "server".</summary>
    /// <example>server</example>
    [JsonPropertyName("api_key_source")]
    public string ApiKeySource { get; init; } = "server";

    /// <summary>When the answer was created (UTC).</summary>
    [JsonPropertyName("created_at")]
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The temperature used.</summary>
    [JsonPropertyName("temperature")]
    public double? Temperature { get; init; }

    /// <summary>The composed instruction block that was sent upstream.</summary>
    [JsonPropertyName("instructions")]
    public string? Instructions { get; init; }

    /// <summary>Upstream response id (poll background responses with it).</summary>
    [JsonPropertyName("response_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ResponseId { get; init; }

    /// <summary>completed, or queued / in_progress for a background response.</summary>
    /// <example>completed</example>
    [JsonPropertyName("status")]
    public string Status { get; init; } = "completed";
}

/// <summary>The stored history of a session (GET /api/v1/chat/sessions/{id}).</summary>
public sealed record SessionHistoryResponse
{
    /// <summary>The session id.</summary>
    [JsonPropertyName("session_id")]
    public required string SessionId { get; init; }

    /// <summary>Stored messages, oldest first.</summary>
    [JsonPropertyName("messages")]
    public required IReadOnlyList<StoredMessage> Messages { get; init; }
}

/// <summary>One stored message.</summary>
public sealed record StoredMessage
{
    /// <summary>"user" or "assistant".</summary>
    [JsonPropertyName("role")]
    public required string Role { get; init; }

    /// <summary>The message text.</summary>
    [JsonPropertyName("content")]
    public required string Content { get; init; }

    /// <summary>When it was stored.</summary>
    [JsonPropertyName("created_at")]
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Error body of the session API: {"success":false,"error":{"code","message"},"trace_id"}.</summary>
public sealed record ApiErrorResponse
{
    /// <summary>Always false.</summary>
    [JsonPropertyName("success")]
    public bool Success { get; init; }

    /// <summary>What went wrong.</summary>
    [JsonPropertyName("error")]
    public required ApiError Error { get; init; }

    /// <summary>The request's trace id (also in the server log).</summary>
    [JsonPropertyName("trace_id")]
    public string? TraceId { get; init; }
}

/// <summary>Code and message of an error.</summary>
public sealed record ApiError
{
    /// <summary>Stable code: validation_error, invalid_json, payload_too_large, config_missing, invalid_user_api_key, rate_limited, upstream_unreachable, upstream_timeout, not_found.</summary>
    /// <example>validation_error</example>
    [JsonPropertyName("code")]
    public required string Code { get; init; }

    /// <summary>Human-readable message (Korean or English per Accept-Language).</summary>
    [JsonPropertyName("message")]
    public required string Message { get; init; }
}
