using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;

namespace LlmServer.Services.Responses;

/// <summary>A Responses request that cannot be expressed as a chat completion: answered 400 with the field at fault.</summary>
public sealed class ResponsesTranslationException(string message, string? param) : Exception(message)
{
    /// <summary>The request field the message is about (OpenAI's <c>param</c>).</summary>
    public string? Param { get; } = param;
}

/// <summary>
/// A /v1/responses request as a /v1/chat/completions request, for an upstream that only speaks chat completions
/// (an OpenAI-compatible server without /v1/responses; Anthropic, through the chat → Messages translator).
/// <list type="bullet">
/// <item>instructions → a leading system message; input (a string, or items) → messages: message items by role
/// (developer → system), input_text/output_text/input_image parts, function_call items → the assistant message's
/// tool_calls (consecutive calls join one message), function_call_output → tool messages.</item>
/// <item>Function tools (Responses' flat shape) → chat tools; hosted tools (web_search, file_search, ...) exist
/// only at OpenAI and are dropped; tool_choice, parallel_tool_calls; max_output_tokens → max_tokens;
/// temperature, top_p, user; text.format → response_format; reasoning.effort → reasoning_effort;
/// stream → stream with stream_options.include_usage (usage is needed for response.completed and the ledger).</item>
/// <item>Fields only the Responses API has (store, previous_response_id, include, truncation, metadata, background,
/// ...) are consumed by the gateway or dropped; any other field (vLLM's top_k, guided_json, ...) is copied.</item>
/// </list>
/// Reasoning items in the input carry no text a chat upstream could use and are dropped.
/// </summary>
public static class ResponsesToChatRequest
{
    private static readonly HashSet<string> s_responsesOnly = new(StringComparer.Ordinal)
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens", "temperature",
        "top_p", "user", "text", "reasoning", "stream", "stream_options", "store", "previous_response_id", "include",
        "truncation", "metadata", "background", "service_tier", "prompt", "prompt_cache_key", "safety_identifier",
        "top_logprobs", "max_tool_calls", "conversation", "context_management", "prompt_cache_retention",
    };

    /// <summary>The chat completions body for <paramref name="request"/> (the model name is kept: the gateway sets the upstream's).</summary>
    public static JsonObject Translate(JsonObject request)
    {
        var messages = new JsonArray();
        if (J.Str(request["instructions"]) is { Length: > 0 } instructions)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = instructions });
        }
        switch (request["input"])
        {
            case JsonValue v when J.Str(v) is { } text:
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = text });
                break;
            case JsonArray items:
                for (var i = 0; i < items.Count; i++) AddItem(messages, items[i] as JsonObject ?? throw Bad($"input[{i}] must be an object.", "input"), i);
                break;
            case null:
                break;
            default:
                throw Bad("input must be a string or an array of input items.", "input");
        }
        if (messages.Count == 0) throw Bad("input must not be empty.", "input");

        var chat = new JsonObject();
        if (request["model"] is JsonNode model) chat["model"] = model.DeepClone();
        chat["messages"] = messages;
        if (request["tools"] is JsonArray tools && Tools(tools) is { Count: > 0 } chatTools)
        {
            chat["tools"] = chatTools;
            if (ToolChoice(request["tool_choice"]) is { } choice) chat["tool_choice"] = choice;
            if (request["parallel_tool_calls"] is JsonValue parallel) chat["parallel_tool_calls"] = parallel.DeepClone();
        }
        if (request["max_output_tokens"] is JsonValue max && J.Long(max) is { } maxTokens) chat["max_tokens"] = maxTokens;
        if (request["temperature"] is JsonValue temperature) chat["temperature"] = temperature.DeepClone();
        if (request["top_p"] is JsonValue topP) chat["top_p"] = topP.DeepClone();
        if (J.Str(request["user"]) is { } user) chat["user"] = user;
        if (request["text"]?["format"] is JsonObject format && ResponseFormat(format) is { } responseFormat) chat["response_format"] = responseFormat;
        if (J.Str(request["reasoning"]?["effort"]) is { } effort) chat["reasoning_effort"] = effort;
        if (J.Bool(request["stream"]))
        {
            chat["stream"] = true;
            chat["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        foreach (var (key, value) in request)
        {
            if (!s_responsesOnly.Contains(key) && !chat.ContainsKey(key)) chat[key] = value?.DeepClone();
        }
        return chat;
    }

    private static void AddItem(JsonArray messages, JsonObject item, int index)
    {
        var type = J.Str(item["type"]) ?? (item.ContainsKey("role") ? "message" : null);
        switch (type)
        {
            case "message":
                AddMessage(messages, item, index);
                break;
            case "function_call":
                var call = new JsonObject
                {
                    ["id"] = J.Str(item["call_id"]) ?? throw Bad($"input[{index}].call_id is required.", "input"),
                    ["type"] = "function",
                    ["function"] = new JsonObject
                    {
                        ["name"] = J.Str(item["name"]) ?? throw Bad($"input[{index}].name is required.", "input"),
                        ["arguments"] = J.Str(item["arguments"]) ?? "{}",
                    },
                };
                // NOTE: chat completions carries parallel calls as one assistant message with several tool_calls.
                if (messages.Count > 0 && messages[^1] is JsonObject last && J.Str(last["role"]) == "assistant")
                {
                    if (last["tool_calls"] is not JsonArray calls) last["tool_calls"] = calls = [];
                    calls.Add(call);
                }
                else
                {
                    messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call) });
                }
                break;
            case "function_call_output":
                messages.Add(new JsonObject
                {
                    ["role"] = "tool",
                    ["tool_call_id"] = J.Str(item["call_id"]) ?? throw Bad($"input[{index}].call_id is required.", "input"),
                    ["content"] = item["output"] switch
                    {
                        JsonValue v when J.Str(v) is { } s => s,
                        JsonArray parts => TextOf(parts),
                        null => "",
                        var other => J.Compact(other),
                    },
                });
                break;
            case "reasoning" or "item_reference":
                break;
            default:
                throw Bad($"input[{index}].type '{type}' cannot be sent to this model.", "input");
        }
    }

    private static void AddMessage(JsonArray messages, JsonObject item, int index)
    {
        var role = J.Str(item["role"]) switch
        {
            "developer" or "system" => "system",
            "user" => "user",
            "assistant" => "assistant",
            var r => throw Bad($"input[{index}].role '{r}' must be user, assistant, system or developer.", "input"),
        };
        JsonNode? content = item["content"] switch
        {
            JsonValue v when J.Str(v) is { } s => s,
            JsonArray parts when role == "user" => UserParts(parts, index),
            JsonArray parts => TextOf(parts),
            null => "",
            _ => throw Bad($"input[{index}].content must be a string or an array of content parts.", "input"),
        };
        messages.Add(new JsonObject { ["role"] = role, ["content"] = content });
    }

    /// <summary>User content: text stays a plain string (every chat server reads it); images make it a part list.</summary>
    private static JsonNode UserParts(JsonArray parts, int index)
    {
        var list = new JsonArray();
        var hasImage = false;
        foreach (var part in parts)
        {
            switch (J.Str(part?["type"]))
            {
                case "input_text" or "output_text" or "text":
                    list.Add(new JsonObject { ["type"] = "text", ["text"] = J.Str(part?["text"]) ?? "" });
                    break;
                case "input_image":
                    var url = J.Str(part?["image_url"]) ?? throw Bad($"input[{index}].content: an input_image needs image_url (file_id exists only at OpenAI).", "input");
                    var image = new JsonObject { ["url"] = url };
                    if (J.Str(part?["detail"]) is { } detail) image["detail"] = detail;
                    list.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = image });
                    hasImage = true;
                    break;
                default:
                    throw Bad($"input[{index}].content part '{J.Str(part?["type"])}' cannot be sent to this model.", "input");
            }
        }
        return hasImage ? list : TextOf(parts);
    }

    private static string TextOf(JsonArray parts)
    {
        var sb = new StringBuilder();
        foreach (var part in parts)
        {
            if (J.Str(part?["text"]) is { } text) sb.Append(text);
            else if (J.Str(part?["refusal"]) is { } refusal) sb.Append(refusal);
        }
        return sb.ToString();
    }

    private static JsonArray Tools(JsonArray tools)
    {
        var list = new JsonArray();
        for (var i = 0; i < tools.Count; i++)
        {
            if (tools[i] is not JsonObject tool || J.Str(tool["type"]) != "function") continue;
            var function = new JsonObject { ["name"] = J.Str(tool["name"]) ?? throw Bad($"tools[{i}].name is required.", "tools") };
            if (J.Str(tool["description"]) is { } description) function["description"] = description;
            function["parameters"] = tool["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
            if (tool["strict"] is JsonValue strict) function["strict"] = strict.DeepClone();
            list.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }
        return list;
    }

    private static JsonNode? ToolChoice(JsonNode? choice) => choice switch
    {
        JsonValue v when J.Str(v) is "auto" or "none" or "required" => J.Str(v),
        JsonObject o when J.Str(o["type"]) == "function" && J.Str(o["name"]) is { } name =>
            new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } },
        _ => null,
    };

    private static JsonObject? ResponseFormat(JsonObject format)
    {
        switch (J.Str(format["type"]))
        {
            case "json_schema":
                var schema = new JsonObject { ["name"] = J.Str(format["name"]) ?? "response" };
                if (J.Str(format["description"]) is { } description) schema["description"] = description;
                if (format["schema"] is JsonNode s) schema["schema"] = s.DeepClone();
                if (format["strict"] is JsonValue strict) schema["strict"] = strict.DeepClone();
                return new JsonObject { ["type"] = "json_schema", ["json_schema"] = schema };
            case "json_object":
                return new JsonObject { ["type"] = "json_object" };
            default:
                return null;
        }
    }

    private static ResponsesTranslationException Bad(string message, string param) => new(message, param);
}
