using System.Text.Json.Nodes;

namespace LlmServer.Services.Anthropic;

/// <summary>Checks of a /v1/messages request body before anything is sent upstream.</summary>
public static class MessagesRequestValidator
{
    /// <summary>A clear message for the first problem found, or null when the request can go on.</summary>
    public static string? Validate(JsonNode? body, bool requireMaxTokens = true)
    {
        if (body is not JsonObject o) return "The request body must be a JSON object.";
        if (J.Str(o["model"]) is not { Length: > 0 }) return "model: Field required (a non-empty string).";
        if (requireMaxTokens)
        {
            if (o["max_tokens"] is null) return "max_tokens: Field required.";
            if (J.Long(o["max_tokens"]) is not > 0) return "max_tokens: Input should be a positive integer.";
        }
        if (o["messages"] is not JsonArray messages) return "messages: Field required (a list of messages).";
        if (messages.Count == 0) return "messages: at least one message is required.";
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject m) return $"messages.{i}: Input should be an object.";
            if (J.Str(m["role"]) is not ("user" or "assistant")) return $"messages.{i}.role: Input should be 'user' or 'assistant'.";
            if (m["content"] is not (JsonArray or JsonValue)) return $"messages.{i}.content: Field required.";
        }
        if (o["stream"] is JsonNode s && s.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False))
        {
            return "stream: Input should be a valid boolean.";
        }
        return null;
    }
}
