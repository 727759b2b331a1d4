using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Pricing;
using LlmServer.Services.Streaming;

namespace LlmServer.Services.Anthropic;

/// <summary>OpenAI chat.completions request -> Anthropic Messages request (for a model served by an anthropic upstream).</summary>
public static class ChatToMessagesRequest
{
    /// <summary>Anthropic requires max_tokens; used when the OpenAI request has none.</summary>
    public const int DefaultMaxTokens = 4096;

    /// <summary>Translates; throws <see cref="AnthropicTranslationException"/> on what Anthropic cannot express.</summary>
    public static JsonObject Translate(JsonObject chat, string? upstreamModel = null, int defaultMaxTokens = DefaultMaxTokens)
    {
        if (chat["messages"] is not JsonArray input) throw new AnthropicTranslationException("'messages' is a required property");
        if (J.Long(chat["n"]) is > 1) throw new AnthropicTranslationException("n > 1 is not supported for this model");

        var system = new StringBuilder();
        var messages = new JsonArray();
        for (var i = 0; i < input.Count; i++)
        {
            var m = input[i] as JsonObject ?? throw new AnthropicTranslationException($"messages[{i}] must be an object");
            switch (J.Str(m["role"]))
            {
                case "system" or "developer":
                    if (system.Length > 0) system.Append("\n\n");
                    system.Append(TextOf(m["content"]));
                    break;
                case "user":
                    Append(messages, "user", UserBlocks(m["content"], i));
                    break;
                case "assistant":
                    Append(messages, "assistant", AssistantBlocks(m));
                    break;
                case "tool" or "function":
                    var id = J.Str(m["tool_call_id"]) ?? J.Str(m["name"]) ?? throw new AnthropicTranslationException($"messages[{i}].tool_call_id is required");
                    Append(messages, "user", [new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = id, ["content"] = TextOf(m["content"]) }]);
                    break;
                default:
                    throw new AnthropicTranslationException($"messages[{i}].role '{J.Str(m["role"])}' is not supported");
            }
        }

        var request = new JsonObject { ["model"] = upstreamModel ?? J.Str(chat["model"]) };
        if (system.Length > 0) request["system"] = system.ToString();
        request["messages"] = messages;
        request["max_tokens"] = J.Long(chat["max_completion_tokens"]) ?? J.Long(chat["max_tokens"]) ?? defaultMaxTokens;
        if (chat["temperature"] is JsonValue t && t.TryGetValue<double>(out var temperature))
        {
            request["temperature"] = Math.Min(1.0, temperature); // OpenAI allows up to 2, Anthropic up to 1
        }
        if (chat["top_p"] is JsonNode p) request["top_p"] = p.DeepClone();
        if (chat["top_k"] is JsonNode k) request["top_k"] = k.DeepClone();
        switch (chat["stop"])
        {
            case JsonValue s when J.Str(s) is { } stop:
                request["stop_sequences"] = new JsonArray(stop);
                break;
            case JsonArray stops when stops.Count > 0:
                request["stop_sequences"] = stops.DeepClone();
                break;
        }
        if (J.Str(chat["user"]) is { } user) request["metadata"] = new JsonObject { ["user_id"] = user };

        if (chat["tools"] is JsonArray { Count: > 0 } tools)
        {
            var list = new JsonArray();
            foreach (var tool in tools)
            {
                if (J.Str(tool?["type"]) is { } type && type != "function") throw new AnthropicTranslationException($"tool type '{type}' is not supported");
                var f = tool?["function"];
                var t2 = new JsonObject { ["name"] = J.Str(f?["name"]) };
                if (J.Str(f?["description"]) is { } d) t2["description"] = d;
                t2["input_schema"] = f?["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
                list.Add(t2);
            }
            request["tools"] = list;
            var choice = chat["tool_choice"] switch
            {
                JsonValue v => J.Str(v) switch
                {
                    "required" => new JsonObject { ["type"] = "any" },
                    "none" => new JsonObject { ["type"] = "none" },
                    _ => new JsonObject { ["type"] = "auto" },
                },
                JsonObject o when J.Str(o["function"]?["name"]) is { } name => new JsonObject { ["type"] = "tool", ["name"] = name },
                _ => null,
            };
            if (chat["parallel_tool_calls"] is JsonValue ptc && ptc.TryGetValue<bool>(out var parallel) && !parallel)
            {
                choice ??= new JsonObject { ["type"] = "auto" };
                if (J.Str(choice["type"]) != "none") choice["disable_parallel_tool_use"] = true;
            }
            if (choice is not null) request["tool_choice"] = choice;
        }

        if (J.Bool(chat["stream"])) request["stream"] = true;
        Think(request, J.Str(chat["reasoning_effort"]), input);
        return request;
    }

    /// <summary>
    /// reasoning_effort becomes extended thinking with a budget. Anthropic's rules for thinking: max_tokens above
    /// the budget (raised by the budget, so the answer keeps the room the client asked for), no temperature or
    /// top_k, top_p only from 0.95, no forced tool, and a turn continuing after a tool call must resend the signed
    /// thinking block that preceded the call, which an OpenAI conversation does not have; in those last two
    /// cases the request goes without thinking rather than being refused.
    /// </summary>
    private static void Think(JsonObject request, string? reasoningEffort, JsonArray input)
    {
        if (ReasoningEffort.BudgetFor(reasoningEffort) is not int budget) return;
        if (J.Str(request["tool_choice"]?["type"]) is "any" or "tool") return;
        for (var i = input.Count - 1; i >= 0; i--)
        {
            var role = J.Str(input[i]?["role"]);
            if (role is "tool" or "function") continue;
            if (role == "assistant" && input[i]?["tool_calls"] is JsonArray { Count: > 0 }) return;
            break;
        }
        request["thinking"] = new JsonObject { ["type"] = "enabled", ["budget_tokens"] = (long)budget };
        var maxTokens = J.Long(request["max_tokens"]) ?? DefaultMaxTokens;
        if (maxTokens <= budget) request["max_tokens"] = budget + maxTokens;
        request.Remove("temperature");
        request.Remove("top_k");
        if (request["top_p"] is JsonValue p && (!p.TryGetValue<double>(out var topP) || topP < 0.95)) request.Remove("top_p");
    }

    /// <summary>Consecutive messages of one role merge: Anthropic expects user and assistant turns to alternate.</summary>
    private static void Append(JsonArray messages, string role, List<JsonNode> blocks)
    {
        if (blocks.Count == 0) return;
        if (messages.Count > 0 && messages[^1] is JsonObject last && J.Str(last["role"]) == role && last["content"] is JsonArray existing)
        {
            // NOTE: tool_result blocks must come first in a user turn; they are appended in arrival order, which keeps them first.
            foreach (var b in blocks) existing.Add(b);
            return;
        }
        var content = new JsonArray();
        foreach (var b in blocks) content.Add(b);
        messages.Add(new JsonObject { ["role"] = role, ["content"] = content });
    }

    private static string TextOf(JsonNode? content)
    {
        switch (content)
        {
            case null: return "";
            case JsonValue v: return J.Str(v) ?? "";
            case JsonArray parts:
                var sb = new StringBuilder();
                foreach (var p in parts)
                {
                    if (J.Str(p?["type"]) is "text" or "input_text")
                    {
                        if (sb.Length > 0) sb.Append('\n');
                        sb.Append(J.Str(p?["text"]));
                    }
                }
                return sb.ToString();
            default: return "";
        }
    }

    private static List<JsonNode> UserBlocks(JsonNode? content, int index)
    {
        var blocks = new List<JsonNode>();
        switch (content)
        {
            case JsonValue v:
                blocks.Add(new JsonObject { ["type"] = "text", ["text"] = J.Str(v) ?? "" });
                break;
            case JsonArray parts:
                foreach (var p in parts)
                {
                    switch (J.Str(p?["type"]))
                    {
                        case "text":
                            blocks.Add(new JsonObject { ["type"] = "text", ["text"] = J.Str(p?["text"]) ?? "" });
                            break;
                        case "image_url":
                            blocks.Add(Image(J.Str(p?["image_url"]?["url"]) ?? J.Str(p?["image_url"]), index));
                            break;
                        default:
                            throw new AnthropicTranslationException($"messages[{index}].content part '{J.Str(p?["type"])}' is not supported for this model");
                    }
                }
                break;
            default:
                throw new AnthropicTranslationException($"messages[{index}].content must be a string or an array");
        }
        return blocks;
    }

    private static JsonObject Image(string? url, int index)
    {
        if (string.IsNullOrEmpty(url)) throw new AnthropicTranslationException($"messages[{index}].image_url.url is required");
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var comma = url.IndexOf(',');
            var meta = comma > 5 ? url[5..comma] : "";
            var mediaType = meta.Split(';')[0];
            if (comma < 0 || !meta.Contains(";base64", StringComparison.OrdinalIgnoreCase))
            {
                throw new AnthropicTranslationException($"messages[{index}].image_url: only base64 data URLs are supported");
            }
            return new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = mediaType, ["data"] = url[(comma + 1)..] },
            };
        }
        return new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "url", ["url"] = url } };
    }

    private static List<JsonNode> AssistantBlocks(JsonObject m)
    {
        var blocks = new List<JsonNode>();
        var text = TextOf(m["content"]);
        if (text.Length > 0) blocks.Add(new JsonObject { ["type"] = "text", ["text"] = text });
        if (m["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls)
            {
                blocks.Add(new JsonObject
                {
                    ["type"] = "tool_use",
                    ["id"] = J.Str(call?["id"]),
                    ["name"] = J.Str(call?["function"]?["name"]),
                    ["input"] = J.ParseArguments(J.Str(call?["function"]?["arguments"])),
                });
            }
        }
        return blocks;
    }
}
