using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmServer.Services.Masking;

/// <summary>
/// Finds the user-content strings of a request body across the supported dialects: OpenAI chat completions
/// (messages[].content string or parts, tool_calls[].function.arguments), completions (prompt), responses
/// (input string or items, instructions, function_call arguments, function_call_output output), Anthropic
/// messages (system, messages[].content string or blocks, tool_use input values, tool_result content) and the
/// session chat API (user_prompt, system_prompt). Everything else (model, role, type, ids, tool names and
/// schemas, sampling settings, images) is left alone.
/// </summary>
internal static class JsonBodyMasker
{
    private const int MaxDepth = 64;

    /// <summary>A string in the body that can be replaced.</summary>
    internal readonly record struct Slot(JsonNode Parent, string? Key, int Index, string Value)
    {
        public void Set(string value)
        {
            if (Key is not null)
            {
                Parent.AsObject()[Key] = JsonValue.Create(value);
            }
            else
            {
                Parent.AsArray()[Index] = JsonValue.Create(value);
            }
        }
    }

    public static List<Slot> Collect(JsonNode body)
    {
        var slots = new List<Slot>();
        if (body is not JsonObject root)
        {
            return slots;
        }
        if (root["messages"] is JsonArray messages)
        {
            foreach (var m in messages)
            {
                if (m is JsonObject msg)
                {
                    Message(msg, slots, 0);
                }
            }
        }
        Content(root, "system", slots, 0);
        Content(root, "instructions", slots, 0);
        Content(root, "prompt", slots, 0);
        Content(root, "input", slots, 0);
        Content(root, "suffix", slots, 0);
        Content(root, "user_prompt", slots, 0);
        Content(root, "system_prompt", slots, 0);
        return slots;
    }

    private static void Message(JsonObject msg, List<Slot> slots, int depth)
    {
        Content(msg, "content", slots, depth + 1);
        if (msg["tool_calls"] is JsonArray calls)
        {
            foreach (var c in calls)
            {
                if (c is JsonObject call && call["function"] is JsonObject fn)
                {
                    StringAt(fn, "arguments", slots);
                }
            }
        }
        if (msg["function_call"] is JsonObject legacy)
        {
            StringAt(legacy, "arguments", slots);
        }
    }

    /// <summary>A content-bearing property: a string, or an array of strings / parts / blocks / items.</summary>
    private static void Content(JsonObject parent, string key, List<Slot> slots, int depth)
    {
        switch (parent[key])
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                slots.Add(new Slot(parent, key, -1, v.GetValue<string>()));
                break;
            case JsonArray array:
                ContentArray(array, slots, depth + 1);
                break;
            case JsonObject obj:
                Block(obj, slots, depth + 1);
                break;
        }
    }

    private static void ContentArray(JsonArray array, List<Slot> slots, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException("Request body nesting is too deep to scan.");
        }
        for (var i = 0; i < array.Count; i++)
        {
            switch (array[i])
            {
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    slots.Add(new Slot(array, null, i, v.GetValue<string>()));
                    break;
                case JsonObject obj:
                    Block(obj, slots, depth + 1);
                    break;
                case JsonArray inner:
                    ContentArray(inner, slots, depth + 1);
                    break;
            }
        }
    }

    /// <summary>A content part, Anthropic block or Responses input item.</summary>
    private static void Block(JsonObject block, List<Slot> slots, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException("Request body nesting is too deep to scan.");
        }
        var type = block["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null;
        switch (type)
        {
            case "tool_use" or "server_tool_use" or "mcp_tool_use":
                if (block["input"] is JsonNode input)
                {
                    AllStrings(input, slots, depth + 1);
                }
                return;
            case "tool_result" or "function_call_output" or "web_search_tool_result" or "mcp_tool_result":
                Content(block, "content", slots, depth + 1);
                Content(block, "output", slots, depth + 1);
                return;
            case "function_call" or "custom_tool_call":
                StringAt(block, "arguments", slots);
                StringAt(block, "input", slots);
                return;
            case "custom_tool_call_output":
                Content(block, "output", slots, depth + 1);
                return;
            case "thinking":
                // NOTE: restored thinking comes back with its signature; masking it again with the same vault
                // reproduces exactly the text the model signed.
                StringAt(block, "thinking", slots);
                return;
            case "document":
                // NOTE: plain-text documents carry user text; base64/url/file sources are binary or remote.
                if (block["source"] is JsonObject source && source["type"] is JsonValue st && st.GetValueKind() == JsonValueKind.String)
                {
                    switch (st.GetValue<string>())
                    {
                        case "text":
                            StringAt(source, "data", slots);
                            break;
                        case "content":
                            Content(source, "content", slots, depth + 1);
                            break;
                    }
                }
                StringAt(block, "context", slots);
                return;
            case "image" or "image_url" or "input_image" or "input_audio" or "input_file" or "file" or "redacted_thinking":
                return;
        }
        if (block.ContainsKey("role"))
        {
            Message(block, slots, depth);
            return;
        }
        StringAt(block, "text", slots);
        if (type is "reasoning" && block["summary"] is JsonArray summary)
        {
            ContentArray(summary, slots, depth + 1);
        }
    }

    private static void StringAt(JsonObject obj, string key, List<Slot> slots)
    {
        if (obj[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            slots.Add(new Slot(obj, key, -1, v.GetValue<string>()));
        }
    }

    /// <summary>Every string value (not key) of a tool input object.</summary>
    private static void AllStrings(JsonNode node, List<Slot> slots, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException("Request body nesting is too deep to scan.");
        }
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToArray())
                {
                    if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                    {
                        slots.Add(new Slot(obj, key, -1, v.GetValue<string>()));
                    }
                    else if (value is not null)
                    {
                        AllStrings(value, slots, depth + 1);
                    }
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
                    {
                        slots.Add(new Slot(array, null, i, v.GetValue<string>()));
                    }
                    else if (array[i] is JsonNode child)
                    {
                        AllStrings(child, slots, depth + 1);
                    }
                }
                break;
        }
    }
}
