using System.Text.Json.Nodes;

namespace LlmServer.Services.Anthropic;

/// <summary>
/// Estimates input tokens of an Anthropic request without a tokenizer (POST /v1/messages/count_tokens).
/// Heuristic, per text run: ASCII ~4 characters per token (rounded up); each Hangul syllable or jamo and each
/// CJK ideograph / kana ~1 token (BPE vocabularies rarely merge them); other characters ~2 per token.
/// Plus 3 tokens of framing per message and per system prompt, ~1,600 tokens per image or document
/// (Anthropic's cap for a full-size image), and the JSON of tool definitions at the ASCII rate.
/// It aims at the right magnitude for budgeting, not exact counts.
/// </summary>
public static class TokenEstimator
{
    private const int PerMessage = 3;
    private const int PerImage = 1600;

    /// <summary>Estimated input tokens of a Messages request.</summary>
    public static long EstimateRequest(JsonObject request)
    {
        long total = 0;
        if (request["system"] is JsonNode system) total += PerMessage + Content(system);
        if (request["messages"] is JsonArray messages)
        {
            foreach (var m in messages) total += PerMessage + Content(m?["content"]);
        }
        if (request["tools"] is JsonArray { Count: > 0 } tools) total += Text(J.Compact(tools));
        return Math.Max(1, total);
    }

    /// <summary>Estimated tokens of a text.</summary>
    public static long Text(string? text)
    {
        if (string.IsNullOrEmpty(text)) return 0;
        long dense = 0;
        long ascii = 0;
        long other = 0;
        foreach (var c in text)
        {
            if (c < 0x80) ascii++;
            else if (IsDense(c)) dense++;
            else if (!char.IsLowSurrogate(c)) other++;
        }
        return dense + (ascii + 3) / 4 + (other + 1) / 2;
    }

    private static bool IsDense(char c) =>
        c is >= '\uAC00' and <= '\uD7A3'   // Hangul syllables
          or >= '\u1100' and <= '\u11FF'   // Hangul jamo
          or >= '\u3130' and <= '\u318F'   // Hangul compatibility jamo
          or >= '\u3040' and <= '\u30FF'   // kana
          or >= '\u4E00' and <= '\u9FFF';  // CJK ideographs

    private static long Content(JsonNode? content)
    {
        switch (content)
        {
            case null: return 0;
            case JsonValue v: return Text(J.Str(v));
            case JsonArray blocks:
                long n = 0;
                foreach (var b in blocks)
                {
                    switch (J.Str(b?["type"]))
                    {
                        case "text": n += Text(J.Str(b?["text"])); break;
                        case "image": n += PerImage; break;
                        case "document":
                            n += J.Str(b?["source"]?["type"]) == "text" ? Text(J.Str(b?["source"]?["data"])) : PerImage;
                            break;
                        case "tool_use": n += Text(J.Str(b?["name"])) + Text(J.Compact(b?["input"])); break;
                        case "tool_result": n += Content(b?["content"]); break;
                        case "thinking": n += Text(J.Str(b?["thinking"])); break;
                        default: n += Text(J.Compact(b)); break;
                    }
                }
                return n;
            default: return Text(J.Compact(content));
        }
    }
}

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
        return RequestShapes.CheckMessages(o);
    }
}
