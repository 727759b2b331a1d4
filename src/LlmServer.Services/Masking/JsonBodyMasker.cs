using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmServer.Services.Masking;

/// <summary>
/// Finds every free-text string of a request body that the upstream model reads, across the supported dialects:
/// OpenAI chat completions (messages[].content string or parts, refusal, name, tool_calls[].function.arguments,
/// tools[].function.description and the descriptions of its parameter schema, legacy functions[], prediction,
/// response_format's json_schema), completions (prompt, suffix), embeddings (input), responses (instructions,
/// input string or items, function_call arguments, function_call_output output, tools[].description and
/// parameters, text.format's schema), Anthropic messages (system, messages[].content string or blocks, tool_use
/// input values, tool_result content, tools[].description and input_schema) and the session chat API
/// (user_prompt, system_prompt). Structure is left as sent: keys, model, role, type, ids, tool names, enum
/// values, schema keywords, sampling settings, images.
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
        Tools(root["tools"], slots);
        Tools(root["functions"], slots);
        if (root["prediction"] is JsonObject prediction)
        {
            Content(prediction, "content", slots, 1);
        }
        if (root["response_format"] is JsonObject format && format["json_schema"] is JsonObject jsonSchema)
        {
            StructuredOutput(jsonSchema, slots);
        }
        if (root["text"] is JsonObject text && text["format"] is JsonObject textFormat)
        {
            StructuredOutput(textFormat, slots);
        }
        return slots;
    }

    /// <summary>
    /// Tool definitions of every dialect: OpenAI chat <c>{type, function:{name, description, parameters}}</c>,
    /// Responses <c>{type, name, description, parameters}</c>, Anthropic <c>{name, description, input_schema}</c>
    /// and legacy <c>functions[]</c>. The model reads the descriptions as prose; names stay, they are identifiers.
    /// </summary>
    private static void Tools(JsonNode? tools, List<Slot> slots)
    {
        if (tools is not JsonArray array)
        {
            return;
        }
        foreach (var t in array)
        {
            if (t is not JsonObject tool)
            {
                continue;
            }
            var definition = tool["function"] as JsonObject ?? tool;
            StringAt(definition, "description", slots);
            Schema(definition["parameters"], slots, 0);
            Schema(definition["input_schema"], slots, 0);
        }
    }

    /// <summary>A structured-output format: its description and the descriptions inside its schema.</summary>
    private static void StructuredOutput(JsonObject format, List<Slot> slots)
    {
        StringAt(format, "description", slots);
        Schema(format["schema"], slots, 0);
    }

    /// <summary>
    /// A JSON schema: only its annotations (<c>description</c>, <c>title</c>) are prose. Property names, types,
    /// enum and const values, patterns and formats are contracts the upstream validates against, so they stay.
    /// </summary>
    private static void Schema(JsonNode? node, List<Slot> slots, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException("Request body nesting is too deep to scan.");
        }
        switch (node)
        {
            case JsonArray list:
                foreach (var item in list)
                {
                    Schema(item, slots, depth + 1);
                }
                return;
            case not JsonObject:
                return;
        }
        var schema = (JsonObject)node;
        StringAt(schema, "description", slots);
        StringAt(schema, "title", slots);
        foreach (var (key, value) in schema)
        {
            switch (key)
            {
                case "properties" or "patternProperties" or "$defs" or "definitions" or "dependentSchemas":
                    if (value is JsonObject named)
                    {
                        foreach (var (_, sub) in named)
                        {
                            Schema(sub, slots, depth + 1);
                        }
                    }
                    break;
                case "items" or "additionalProperties" or "anyOf" or "oneOf" or "allOf" or "not" or "prefixItems"
                    or "if" or "then" or "else" or "contains" or "propertyNames" or "unevaluatedProperties" or "unevaluatedItems":
                    Schema(value, slots, depth + 1);
                    break;
            }
        }
    }

    private static void Message(JsonObject msg, List<Slot> slots, int depth)
    {
        Content(msg, "content", slots, depth + 1);
        // NOTE: a chat message's name is the participant's free-text name; the model reads it with the turn.
        StringAt(msg, "name", slots);
        StringAt(msg, "refusal", slots);
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
            case "refusal":
                StringAt(block, "refusal", slots);
                return;
            case "search_result":
                StringAt(block, "title", slots);
                Content(block, "content", slots, depth + 1);
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
