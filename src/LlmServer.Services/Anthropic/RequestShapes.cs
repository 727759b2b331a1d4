using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmServer.Services.Anthropic;

/// <summary>
/// The JSON kinds the translators and the token estimate rely on, checked before they read a request, so a
/// value of the wrong kind (<c>"system":[1]</c>, <c>"tools":[1]</c>, <c>"tool_choice":"x"</c>, <c>"content":[1]</c>)
/// is a 400 naming the field and what it should be, in the caller's dialect, instead of a failure deep inside.
/// Only kinds are checked; values (roles, block types) stay the business of the validator and the upstream.
/// </summary>
public static class RequestShapes
{
    /// <summary>Largest max_tokens accepted: the budget multiplies it by a price, and no model writes more.</summary>
    public const long MaxTokensLimit = int.MaxValue;

    private const string Str = "a string";
    private const string Num = "a number";
    private const string Int = "a whole number";
    private const string Bool = "true or false";
    private const string Obj = "an object";
    private const string Arr = "an array";
    private const string StrOrBlocks = "a string or an array of content blocks (objects)";

    /// <summary>The first problem of a Messages request (Anthropic field paths: <c>messages.0.content</c>), or null.</summary>
    public static string? CheckMessages(JsonObject body)
    {
        var p = Field(body, "max_tokens", Int) ?? MaxTokens(body, "max_tokens")
            ?? Field(body, "temperature", Num) ?? Field(body, "top_p", Num) ?? Field(body, "top_k", Int)
            ?? Field(body, "metadata", Obj) ?? Field(body, "thinking", Obj) ?? Field(body, "tool_choice", Obj)
            ?? Field(body, "stop_sequences", Arr) ?? Field(body, "tools", Arr);
        if (p is not null) return p;
        if (body["metadata"] is JsonObject metadata && Field(metadata, "user_id", Str, "metadata.") is { } m) return m;
        if (body["tool_choice"] is JsonObject choice && (Field(choice, "type", Str, "tool_choice.") ?? Field(choice, "name", Str, "tool_choice.")) is { } c) return c;
        if (Items(body["stop_sequences"] as JsonArray, "stop_sequences", '.', Str) is { } stop) return stop;
        if (body["tools"] is JsonArray tools)
        {
            for (var i = 0; i < tools.Count; i++)
            {
                if (tools[i] is not JsonObject tool) return Wrong($"tools.{i}", Obj);
                var at = $"tools.{i}.";
                if ((Field(tool, "name", Str, at) ?? Field(tool, "description", Str, at) ?? Field(tool, "input_schema", Obj, at) ?? Field(tool, "type", Str, at)) is { } t) return t;
            }
        }
        if (body["system"] is JsonNode system && system.GetValueKind() != JsonValueKind.String)
        {
            if (system is not JsonArray blocks) return Wrong("system", "a string or an array of text blocks (objects)");
            if (Blocks(blocks, "system") is { } s) return s;
        }
        if (body["messages"] is JsonArray messages)
        {
            for (var i = 0; i < messages.Count; i++)
            {
                if (messages[i] is not JsonObject message) continue;
                if (Field(message, "role", Str, $"messages.{i}.") is { } r) return r;
                if (Content(message["content"], $"messages.{i}.content") is { } content) return content;
            }
        }
        return null;
    }

    /// <summary>The first problem of a chat.completions request about to be translated (OpenAI paths: <c>messages[0].content</c>), or null.</summary>
    public static string? CheckChat(JsonObject body)
    {
        var p = Field(body, "messages", Arr) ?? Field(body, "tools", Arr) ?? Field(body, "temperature", Num) ?? Field(body, "top_p", Num)
            ?? Field(body, "top_k", Int) ?? Field(body, "n", Int) ?? Field(body, "user", Str) ?? Field(body, "parallel_tool_calls", Bool)
            ?? Field(body, "stream", Bool) ?? Field(body, "stream_options", Obj)
            ?? MaxTokens(body, "max_tokens") ?? MaxTokens(body, "max_completion_tokens");
        if (p is not null) return p;
        if (body["tool_choice"] is JsonNode choice && choice.GetValueKind() != JsonValueKind.String)
        {
            if (choice is not JsonObject o) return Wrong("tool_choice", "a string or an object");
            if (o["function"] is JsonNode f && (f is not JsonObject fo || Field(fo, "name", Str, "tool_choice.function.") is not null)) return Wrong("tool_choice.function", "an object with a string name");
        }
        if (body["stop"] is JsonNode stop && stop.GetValueKind() != JsonValueKind.String)
        {
            if (stop is not JsonArray stops) return Wrong("stop", "a string or an array of strings");
            if (Items(stops, "stop", '[', Str) is { } s) return s;
        }
        if (body["tools"] is JsonArray tools)
        {
            for (var i = 0; i < tools.Count; i++)
            {
                if (tools[i] is not JsonObject tool) return Wrong($"tools[{i}]", Obj);
                if ((Field(tool, "type", Str, $"tools[{i}].") ?? Field(tool, "function", Obj, $"tools[{i}].")) is { } t) return t;
                if (tool["function"] is JsonObject f && (Field(f, "name", Str, $"tools[{i}].function.") ?? Field(f, "description", Str, $"tools[{i}].function.")
                    ?? Field(f, "parameters", Obj, $"tools[{i}].function.")) is { } ft) return ft;
            }
        }
        if (body["messages"] is JsonArray messages)
        {
            for (var i = 0; i < messages.Count; i++)
            {
                var at = $"messages[{i}]";
                if (messages[i] is not JsonObject m) return Wrong(at, Obj);
                if ((Field(m, "role", Str, at + ".") ?? Field(m, "name", Str, at + ".") ?? Field(m, "tool_call_id", Str, at + ".") ?? Field(m, "tool_calls", Arr, at + ".")) is { } f) return f;
                if (m["content"] is JsonNode content && content.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    if (content is not JsonArray parts) return Wrong(at + ".content", "a string or an array of content parts (objects)");
                    for (var j = 0; j < parts.Count; j++)
                    {
                        if (parts[j] is not JsonObject part) return Wrong($"{at}.content[{j}]", Obj);
                        var pa = $"{at}.content[{j}].";
                        if ((Field(part, "type", Str, pa) ?? Field(part, "text", Str, pa)) is { } pt) return pt;
                        if (part["image_url"] is JsonNode url && url.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Object)) return Wrong(pa + "image_url", "a string or an object");
                        if (part["image_url"] is JsonObject urlObject && Field(urlObject, "url", Str, pa + "image_url.") is { } u) return u;
                    }
                }
                if (m["tool_calls"] is JsonArray calls)
                {
                    for (var j = 0; j < calls.Count; j++)
                    {
                        var ca = $"{at}.tool_calls[{j}]";
                        if (calls[j] is not JsonObject call) return Wrong(ca, Obj);
                        if ((Field(call, "id", Str, ca + ".") ?? Field(call, "function", Obj, ca + ".")) is { } ct) return ct;
                        if (call["function"] is JsonObject f2 && (Field(f2, "name", Str, ca + ".function.") ?? Field(f2, "arguments", Str, ca + ".function.")) is { } fa) return fa;
                    }
                }
            }
        }
        return null;
    }

    private static string? Content(JsonNode? content, string path)
    {
        if (content is null || content.GetValueKind() == JsonValueKind.String) return null;
        return content is JsonArray blocks ? Blocks(blocks, path) : Wrong(path, StrOrBlocks);
    }

    private static string? Blocks(JsonArray blocks, string path)
    {
        for (var i = 0; i < blocks.Count; i++)
        {
            var at = $"{path}.{i}";
            if (blocks[i] is not JsonObject block) return Wrong(at, "a content block (an object)");
            var p = at + ".";
            var problem = Field(block, "type", Str, p) ?? Field(block, "text", Str, p) ?? Field(block, "name", Str, p) ?? Field(block, "id", Str, p)
                ?? Field(block, "tool_use_id", Str, p) ?? Field(block, "thinking", Str, p) ?? Field(block, "is_error", Bool, p) ?? Field(block, "source", Obj, p)
                ?? Field(block, "cache_control", Obj, p);
            if (problem is not null) return problem;
            if (block["source"] is JsonObject source && (Field(source, "type", Str, p + "source.") ?? Field(source, "data", Str, p + "source.")
                ?? Field(source, "media_type", Str, p + "source.") ?? Field(source, "url", Str, p + "source.")) is { } s) return s;
            if (block.ContainsKey("content") && Content(block["content"], at + ".content") is { } nested) return nested;
        }
        return null;
    }

    private static string? Items(JsonArray? items, string path, char style, string kind)
    {
        if (items is null) return null;
        for (var i = 0; i < items.Count; i++)
        {
            if (!Is(items[i], kind)) return Wrong(style == '[' ? $"{path}[{i}]" : $"{path}.{i}", kind);
        }
        return null;
    }

    private static string? MaxTokens(JsonObject body, string name) =>
        body[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && !(v.TryGetValue<long>(out var n) && n <= MaxTokensLimit)
            ? $"{name}: expected a whole number of tokens up to {MaxTokensLimit}."
            : null;

    /// <summary>A problem when the field is present, not null, and not of the kind.</summary>
    private static string? Field(JsonObject o, string name, string kind, string prefix = "")
    {
        var node = o[name];
        return node is null || Is(node, kind) ? null : Wrong(prefix + name, kind);
    }

    private static bool Is(JsonNode? node, string kind)
    {
        var k = node?.GetValueKind() ?? JsonValueKind.Null;
        return kind switch
        {
            Str => k == JsonValueKind.String,
            Num => k == JsonValueKind.Number,
            Int => k == JsonValueKind.Number && node is JsonValue v && v.TryGetValue<long>(out _),
            Bool => k is JsonValueKind.True or JsonValueKind.False,
            Obj => k == JsonValueKind.Object,
            Arr => k == JsonValueKind.Array,
            _ => true,
        };
    }

    private static string Wrong(string path, string kind) => $"{path}: expected {kind}.";
}
