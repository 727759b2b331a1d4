using System.Text;
using System.Text.Json.Serialization;

namespace LlmServer.Dto.Chat;

/// <summary>
/// A session chat request (POST /api/v1/chat). Both spellings of the seed documents work:
/// session_id or request_id, user_prompt or user_message, system_prompt or system_message.
/// </summary>
public sealed record ChatRequest
{
    /// <summary>Session id: with one, completed turns are stored and sent back as history on later requests.</summary>
    /// <example>unique_session_id</example>
    [JsonPropertyName("session_id")]
    public string? SessionId { get; init; }

    /// <summary>Alias of session_id (seed README spelling).</summary>
    [JsonPropertyName("request_id")]
    public string? RequestId { get; init; }

    /// <summary>The user's message (required, non-empty).</summary>
    /// <example>Python의 특징을 설명해주세요.</example>
    [JsonPropertyName("user_prompt")]
    public string? UserPrompt { get; init; }

    /// <summary>Alias of user_prompt.</summary>
    [JsonPropertyName("user_message")]
    public string? UserMessage { get; init; }

    /// <summary>System prompt; when absent the configured default system message is used (Korean by default).</summary>
    /// <example>당신은 친절한 프로그래밍 튜터입니다.</example>
    [JsonPropertyName("system_prompt")]
    public string? SystemPrompt { get; init; }

    /// <summary>Alias of system_prompt.</summary>
    [JsonPropertyName("system_message")]
    public string? SystemMessage { get; init; }

    /// <summary>Role the assistant plays, added to the instruction block.</summary>
    [JsonPropertyName("role")]
    public string? Role { get; init; }

    /// <summary>Extra instructions, added last to the instruction block.</summary>
    [JsonPropertyName("instructions")]
    public string? Instructions { get; init; }

    /// <summary>Facts to remember, added to the instruction block.</summary>
    [JsonPropertyName("memory_context")]
    public IReadOnlyList<string>? MemoryContext { get; init; }

    /// <summary>Earlier messages supplied by the client: {role, content} objects, or plain strings (user turns).</summary>
    [JsonPropertyName("conversation_history")]
    public IReadOnlyList<HistoryMessage>? ConversationHistory { get; init; }

    /// <summary>Model; default from configuration (gpt-4o-mini).</summary>
    /// <example>gpt-4o-mini</example>
    [JsonPropertyName("model")]
    public string? Model { get; init; }

    /// <summary>Maximum output tokens; default 1000.</summary>
    /// <example>1000</example>
    [JsonPropertyName("max_tokens")]
    public int? MaxTokens { get; init; }

    /// <summary>Sampling temperature, 0 to 2; default 0.7.</summary>
    /// <example>0.7</example>
    [JsonPropertyName("temperature")]
    public double? Temperature { get; init; }

    /// <summary>The caller's own OpenAI key; never stored or logged.</summary>
    [JsonPropertyName("openai_api_key")]
    public string? OpenAiApiKey { get; init; }

    /// <summary>Use openai_api_key (required then) instead of the server's key.</summary>
    /// <example>false</example>
    [JsonPropertyName("use_user_api_key")]
    public bool UseUserApiKey { get; init; }

    /// <summary>Use the caller's key when given, else the server's.</summary>
    /// <example>false</example>
    [JsonPropertyName("free_mode")]
    public bool FreeMode { get; init; }

    /// <summary>Answer as server-sent events (same as POST /api/v1/chat/stream).</summary>
    /// <example>false</example>
    [JsonPropertyName("stream")]
    public bool Stream { get; init; }

    /// <summary>Let the model search the web (Responses web_search tool).</summary>
    /// <example>false</example>
    [JsonPropertyName("web_search")]
    public bool WebSearch { get; init; }

    /// <summary>Start a background response and return its id; poll GET /api/v1/chat/responses/{id}.</summary>
    /// <example>false</example>
    [JsonPropertyName("background")]
    public bool Background { get; init; }

    /// <summary>session_id, or its alias request_id.</summary>
    [JsonIgnore]
    public string? EffectiveSessionId => string.IsNullOrWhiteSpace(SessionId) ? NullIfBlank(RequestId) : SessionId;

    /// <summary>user_prompt, or its alias user_message.</summary>
    [JsonIgnore]
    public string? EffectiveUserPrompt => string.IsNullOrWhiteSpace(UserPrompt) ? NullIfBlank(UserMessage) : UserPrompt;

    /// <summary>system_prompt, or its alias system_message.</summary>
    [JsonIgnore]
    public string? EffectiveSystemPrompt => string.IsNullOrWhiteSpace(SystemPrompt) ? NullIfBlank(SystemMessage) : SystemPrompt;

    private static string? NullIfBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    // NOTE: records print every property; the caller's key must never reach a log line.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("SessionId = ").Append(EffectiveSessionId)
            .Append(", Model = ").Append(Model)
            .Append(", OpenAiApiKey = ").Append(OpenAiApiKey is null ? "null" : "***");
        return true;
    }
}

/// <summary>One message of conversation_history. In JSON either {"role","content"} or a plain string (a user turn).</summary>
[JsonConverter(typeof(HistoryMessageJsonConverter))]
public sealed record HistoryMessage
{
    /// <summary>"user" or "assistant".</summary>
    /// <example>user</example>
    [JsonPropertyName("role")]
    public string Role { get; init; } = "user";

    /// <summary>The message text.</summary>
    [JsonPropertyName("content")]
    public string Content { get; init; } = "";
}
