using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Chat;
using LlmServer.Services.Routing;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Dialects.OpenAi;

/// <summary>
/// x-session-id on /v1/chat/completions: the session's stored history is put before the request's messages
/// (after its leading system/developer messages), and the new turn is stored once the answer is complete.
/// Uses the store of /api/v1/chat (<see cref="IChatHistoryStore"/>), inside the caller's own space: the same id sent
/// with another key is another session.
/// </summary>
public sealed partial class SessionMemory(IServiceProvider services, IOptions<GatewayOptions> options, TimeProvider time, ILogger<SessionMemory> logger)
{
    public const string Header = "x-session-id";

    /// <summary>The pending turn of one request.</summary>
    public sealed class Turn(string owner, string sessionId, string userText)
    {
        public string Owner { get; } = owner;
        public string SessionId { get; } = sessionId;
        public string UserText { get; } = userText;
        public StringBuilder Answer { get; } = new();
    }

    private IChatHistoryStore? Store => services.GetService<IChatHistoryStore>();

    /// <summary>The body with history prepended, and the turn to store later; null body when no store is registered.</summary>
    public async Task<(byte[]? Body, Turn? Turn)> PrepareAsync(string owner, string sessionId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var store = Store;
        if (store is null)
        {
            LogNoStore(logger);
            return (null, null);
        }
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body.Span);
        }
        catch (JsonException)
        {
            return (null, null); // the scan that follows reports the parse error
        }
        if (root is not JsonObject obj || obj["messages"] is not JsonArray messages) return (null, null);
        // NOTE: values of the wrong kind are left for the upstream (or the translator) to refuse; history needs readable messages.
        if (Services.Anthropic.RequestShapes.CheckChat(obj) is not null) return (null, null);
        var userText = LastUserText(messages);
        var history = await store.GetAsync(owner, sessionId, options.Value.SessionHistoryMessages, cancellationToken);
        if (history.Count > 0)
        {
            var at = 0;
            while (at < messages.Count && (string?)messages[at]?["role"] is "system" or "developer") at++;
            foreach (var turn in history)
            {
                messages.Insert(at++, new JsonObject { ["role"] = turn.Role, ["content"] = turn.Content });
            }
        }
        return (JsonSerializer.SerializeToUtf8Bytes(obj), new Turn(owner, sessionId, userText));
    }

    public async Task StoreAsync(Turn turn)
    {
        var store = Store;
        if (store is null || turn.Answer.Length == 0 && turn.UserText.Length == 0) return;
        var now = time.GetUtcNow();
        try
        {
            // NOTE: the answer is complete; store it even if the client has gone meanwhile.
            await store.AppendAsync(turn.Owner, turn.SessionId, [new ChatTurn("user", turn.UserText, now), new ChatTurn("assistant", turn.Answer.ToString(), now)], CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreFailed(logger, ex);
        }
    }

    /// <summary>choices[0].message.content of a chat completion.</summary>
    public static void CaptureCompletion(Turn turn, ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            if (doc.RootElement.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("message", out var message) && message.TryGetProperty("content", out var content)
                && content.ValueKind == JsonValueKind.String)
            {
                turn.Answer.Append(content.GetString());
            }
        }
        catch (JsonException)
        {
        }
    }

    /// <summary>choices[0].delta.content of a stream chunk.</summary>
    public static void CaptureDelta(Turn turn, ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            if (doc.RootElement.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content)
                && content.ValueKind == JsonValueKind.String)
            {
                turn.Answer.Append(content.GetString());
            }
        }
        catch (JsonException)
        {
        }
    }

    private static string LastUserText(JsonArray messages)
    {
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if ((string?)messages[i]?["role"] != "user") continue;
            var content = messages[i]?["content"];
            if (content is JsonValue v && v.TryGetValue<string>(out var s)) return s;
            if (content is JsonArray parts)
            {
                var sb = new StringBuilder();
                foreach (var p in parts)
                {
                    if ((string?)p?["type"] == "text") sb.Append((string?)p?["text"]);
                }
                return sb.ToString();
            }
            return "";
        }
        return "";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "x-session-id given but no chat history store is registered; the request goes without memory")]
    private static partial void LogNoStore(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing a session turn failed")]
    private static partial void LogStoreFailed(ILogger logger, Exception ex);
}
