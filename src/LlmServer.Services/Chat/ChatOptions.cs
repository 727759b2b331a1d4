namespace LlmServer.Services.Chat;

/// <summary>Configuration section LlmServer:Chat (the session chat API).</summary>
public sealed class ChatOptions
{
    public const string SectionName = "LlmServer:Chat";

    /// <summary>Model used when the request names none.</summary>
    public string DefaultModel { get; set; } = "gpt-4o-mini";

    /// <summary>max_tokens used when the request gives none.</summary>
    public int MaxTokens { get; set; } = 1000;

    /// <summary>temperature used when the request gives none.</summary>
    public double Temperature { get; set; } = 0.7;

    /// <summary>"ko" or "en": language of the default system message and of error messages when Accept-Language names neither.</summary>
    public string DefaultLanguage { get; set; } = "ko";

    /// <summary>Default system message per language, used when the request has no system prompt.</summary>
    public Dictionary<string, string> DefaultSystemMessages { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ko"] = "당신은 도움이 되는 AI 어시스턴트입니다.",
        ["en"] = "You are a helpful AI assistant.",
    };

    /// <summary>History window sent upstream on later requests of a session.</summary>
    public HistoryWindowOptions History { get; set; } = new();
}

/// <summary>How much stored history of a session goes upstream.</summary>
public sealed class HistoryWindowOptions
{
    /// <summary>At most this many past turns (a turn = user message + assistant answer).</summary>
    public int MaxTurns { get; set; } = 10;

    /// <summary>At most this many characters of stored history; the oldest messages are dropped first.</summary>
    public int MaxChars { get; set; } = 8000;
}

/// <summary>Configuration section LlmServer:OpenAi, as the session chat API uses it.</summary>
public sealed class OpenAiOptions
{
    public const string SectionName = "LlmServer:OpenAi";

    /// <summary>The server's key (env OPENAI_API_KEY). Empty: only callers' own keys work.</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>Responses API base URL including /v1 (env OPENAI_BASE_URL).</summary>
    public string BaseUrl { get; set; } = "https://api.openai.com/v1";

    /// <summary>Upstream timeout in seconds; when exceeded the call answers 504.</summary>
    public int TimeoutSeconds { get; set; } = 120;
}
