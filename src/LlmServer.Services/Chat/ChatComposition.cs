using System.Text;
using LlmServer.Dto.Chat;
using LlmServer.Services.Errors;

namespace LlmServer.Services.Chat;

/// <summary>Builds the instruction block and the input messages of a chat request.</summary>
public static class ChatComposition
{
    /// <summary>
    /// One instruction block: the system prompt (or the default system message of <paramref name="language"/>),
    /// then role, memory context and instructions, each only when present, separated by blank lines.
    /// </summary>
    public static string ComposeInstructions(ChatRequest request, ChatOptions options, string language)
    {
        var english = language == "en";
        var sb = new StringBuilder();
        var system = request.EffectiveSystemPrompt ?? DefaultSystemMessage(options, language);
        Append(sb, system?.Trim());
        if (!string.IsNullOrWhiteSpace(request.Role))
        {
            Append(sb, (english ? "Role: " : "역할: ") + request.Role.Trim());
        }
        var memory = request.MemoryContext?.Where(m => !string.IsNullOrWhiteSpace(m)).Select(m => "- " + m.Trim()).ToList();
        if (memory is { Count: > 0 })
        {
            Append(sb, (english ? "Memory:\n" : "기억할 내용:\n") + string.Join('\n', memory));
        }
        if (!string.IsNullOrWhiteSpace(request.Instructions))
        {
            Append(sb, (english ? "Instructions: " : "지침: ") + request.Instructions.Trim());
        }
        return sb.ToString();
    }

    /// <summary>Stored history of the session, then the client's history, then the user prompt.</summary>
    public static IReadOnlyList<UpstreamMessage> ComposeInput(ChatRequest request, IReadOnlyList<ChatTurn> storedHistory)
    {
        var input = new List<UpstreamMessage>(storedHistory.Count + (request.ConversationHistory?.Count ?? 0) + 1);
        input.AddRange(storedHistory.Select(t => new UpstreamMessage(t.Role, t.Content)));
        if (request.ConversationHistory is { } history)
        {
            input.AddRange(history.Where(m => m is not null && !string.IsNullOrEmpty(m.Content)).Select(m => new UpstreamMessage(m.Role, m.Content)));
        }
        input.Add(new UpstreamMessage("user", request.EffectiveUserPrompt ?? ""));
        return input;
    }

    /// <summary>The newest stored messages within the window: at most MaxTurns turns and MaxChars characters.</summary>
    public static IReadOnlyList<ChatTurn> ApplyWindow(IReadOnlyList<ChatTurn> stored, HistoryWindowOptions window)
    {
        var maxMessages = window.MaxTurns * 2;
        var start = Math.Max(0, stored.Count - maxMessages);
        var chars = 0;
        var first = stored.Count;
        for (var i = stored.Count - 1; i >= start; i--)
        {
            chars += stored[i].Content.Length;
            if (chars > window.MaxChars)
            {
                break;
            }
            first = i;
        }
        // NOTE: never start the window with an assistant message whose question was cut off.
        while (first < stored.Count && stored[first].Role == "assistant")
        {
            first++;
        }
        return first == 0 ? stored : stored.Skip(first).ToList();
    }

    /// <summary>The configured default system message in the language, else in the default language.</summary>
    public static string? DefaultSystemMessage(ChatOptions options, string language) =>
        options.DefaultSystemMessages.TryGetValue(language, out var m) ? m
        : options.DefaultSystemMessages.TryGetValue(options.DefaultLanguage, out var d) ? d : null;

    private static void Append(StringBuilder sb, string? part)
    {
        if (string.IsNullOrWhiteSpace(part))
        {
            return;
        }
        if (sb.Length > 0)
        {
            sb.Append("\n\n");
        }
        sb.Append(part);
    }
}

/// <summary>Whose provider key pays for a call.</summary>
/// <param name="UserApiKey">The caller's key, or null for the server's key.</param>
/// <param name="Source">"user" or "server".</param>
public readonly record struct KeySelection(string? UserApiKey, string Source)
{
    public const string User = "user";
    public const string Server = "server";

    /// <summary>
    /// use_user_api_key -> the caller's key (400 when missing); free_mode -> the caller's key if given, else the
    /// server's; otherwise the server's key. No usable key -> 503 naming OPENAI_API_KEY.
    /// </summary>
    public static KeySelection Select(ChatRequest request, bool hasServerKey)
    {
        var userKey = string.IsNullOrWhiteSpace(request.OpenAiApiKey) ? null : request.OpenAiApiKey.Trim();
        if (request.UseUserApiKey)
        {
            return userKey is not null ? new KeySelection(userKey, User)
                : throw new LlmServerException(ErrorKind.Validation, "user_api_key_required",
                    "openai_api_key is required when use_user_api_key is true.");
        }
        if (request.FreeMode && userKey is not null)
        {
            return new KeySelection(userKey, User);
        }
        return hasServerKey ? new KeySelection(null, Server) : throw ServerKeyMissing();
    }

    /// <summary>503: the server has no OpenAI key configured.</summary>
    public static LlmServerException ServerKeyMissing() =>
        new(ErrorKind.ConfigurationMissing, "config_missing",
            "The server has no OpenAI API key. Set OPENAI_API_KEY (LlmServer:OpenAi:ApiKey), or send your own key with use_user_api_key=true.",
            "OPENAI_API_KEY");
}
