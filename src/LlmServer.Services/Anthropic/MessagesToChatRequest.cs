using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Routing;

namespace LlmServer.Services.Anthropic;

/// <summary>How an Anthropic request is shaped for a given OpenAI-compatible upstream.</summary>
public sealed record ChatTranslationOptions
{
    /// <summary>Model name to send upstream (null: the request's model).</summary>
    public string? UpstreamModel { get; init; }

    /// <summary>True for vLLM: top_k passes as an extra field. OpenAI rejects it, so it is dropped there.</summary>
    public bool PassTopK { get; init; } = true;

    /// <summary>max_tokens (vLLM, most compatible servers) or max_completion_tokens (OpenAI, required by o-series).</summary>
    public string MaxTokensField { get; init; } = "max_tokens";

    /// <summary>
    /// True when the upstream accepts <c>reasoning_effort</c> for this model (see <see cref="ReasoningEffort.Accepts"/>):
    /// Anthropic's <c>thinking</c> / <c>output_config.effort</c> become it. False: they are dropped.
    /// </summary>
    public bool PassReasoningEffort { get; init; }

    /// <summary>The deployment's context length in tokens (configured MaxModelLen or vLLM's max_model_len); null: unknown.</summary>
    public int? ContextLength { get; init; }

    /// <summary>The request's estimated prompt tokens, counted by the caller when <see cref="ContextLength"/> is known.</summary>
    public long? PromptTokens { get; init; }
}

/// <summary>Anthropic Messages request -> OpenAI chat.completions request.</summary>
public static class MessagesToChatRequest
{
    // Anthropic-only top-level fields; anything else (vLLM extras like guided_json) passes through untouched.
    private static readonly HashSet<string> s_handled =
    [
        "model", "system", "messages", "tools", "tool_choice", "stop_sequences", "max_tokens", "metadata", "stream",
        "temperature", "top_p", "top_k", "thinking", "container", "mcp_servers", "service_tier", "context_management",
        "anthropic_version", "anthropic_beta", "betas", "output_format", "inference_geo", "output_config",
    ];

    /// <summary>
    /// Claude Code's first system block: its version and a per-request nonce. It is billing metadata for Anthropic,
    /// not an instruction, and an upstream that caches by prefix (vLLM, OpenAI) would miss its cache on every
    /// request if the prompt began with it, so translation leaves it out.
    /// </summary>
    private const string BillingHeaderPrefix = "x-anthropic-billing-header:";

    /// <summary>Translates; throws <see cref="AnthropicTranslationException"/> on a shape that cannot be expressed.</summary>
    public static JsonObject Translate(JsonObject request, ChatTranslationOptions? options = null) => Translate(request, options, out _);

    /// <summary>
    /// Translates, fitting max_tokens into the deployment's context (<see cref="ChatTranslationOptions.ContextLength"/>);
    /// <paramref name="context"/> says whether it was lowered. A prompt that does not fit at all throws
    /// <see cref="AnthropicTranslationException"/> with Anthropic's "prompt is too long" message.
    /// </summary>
    public static JsonObject Translate(JsonObject request, ChatTranslationOptions? options, out ContextDecision context)
    {
        options ??= new ChatTranslationOptions();
        context = default;
        var chat = new JsonObject { ["model"] = options.UpstreamModel ?? J.Str(request["model"]) };
        var messages = new JsonArray();

        var system = SystemText(request["system"]);
        if (system is not null) messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });

        if (request["messages"] is not JsonArray input) throw new AnthropicTranslationException("messages: Field required");
        for (var i = 0; i < input.Count; i++)
        {
            if (input[i] is not JsonObject m) throw new AnthropicTranslationException($"messages.{i}: Input should be an object");
            var role = J.Str(m["role"]);
            switch (role)
            {
                case "user":
                    AddUser(messages, m["content"], i);
                    break;
                case "assistant":
                    AddAssistant(messages, m["content"], i);
                    break;
                case "system":
                    // NOTE: a system turn inside the conversation (Claude Code's per-turn instructions) stays where it was.
                    if (SystemText(m["content"]) is { } turn) messages.Add(new JsonObject { ["role"] = "system", ["content"] = turn });
                    break;
                default:
                    throw new AnthropicTranslationException($"messages.{i}.role: Input should be 'user', 'assistant' or 'system'");
            }
        }
        chat["messages"] = messages;

        if (request["max_tokens"] is JsonNode maxTokens) chat[options.MaxTokensField] = maxTokens.DeepClone();
        if (options.PromptTokens is long prompt && ContextLimits.Applies(options.ContextLength, J.Long(request["max_tokens"])))
        {
            context = ContextLimits.Decide(options.ContextLength, prompt, J.Long(request["max_tokens"]));
            if (context.Verdict == ContextVerdict.PromptTooLong) throw new AnthropicTranslationException(context.AnthropicMessage);
            if (context.Verdict == ContextVerdict.Clamped) chat[options.MaxTokensField] = context.MaxTokens;
        }
        if (request["temperature"] is JsonNode t) chat["temperature"] = t.DeepClone();
        if (request["top_p"] is JsonNode p) chat["top_p"] = p.DeepClone();
        if (options.PassTopK && request["top_k"] is JsonNode k) chat["top_k"] = k.DeepClone();
        if (request["stop_sequences"] is JsonArray { Count: > 0 } stops) chat["stop"] = stops.DeepClone();
        if (J.Str(request["metadata"]?["user_id"]) is { } user) chat["user"] = user;
        if (options.PassReasoningEffort && ReasoningEffort.FromAnthropic(request) is { } effort) chat["reasoning_effort"] = effort;

        if (request["tools"] is JsonArray { Count: > 0 } tools)
        {
            chat["tools"] = TranslateTools(tools);
            if (request["tool_choice"] is JsonObject choice)
            {
                var translated = TranslateToolChoice(choice);
                if (translated is not null) chat["tool_choice"] = translated;
                if (J.Bool(choice["disable_parallel_tool_use"])) chat["parallel_tool_calls"] = false;
            }
        }
        else if (J.Str(request["tool_choice"]?["type"]) is "any" or "tool")
        {
            throw new AnthropicTranslationException("tool_choice: requires tools");
        }

        if (J.Bool(request["stream"]))
        {
            chat["stream"] = true;
            chat["stream_options"] = new JsonObject { ["include_usage"] = true };
        }

        foreach (var (key, value) in request)
        {
            if (!s_handled.Contains(key) && !chat.ContainsKey(key)) chat[key] = value?.DeepClone();
        }
        return chat;
    }

    /// <summary>system as a string, or its text blocks joined by a blank line; null when absent or empty.</summary>
    public static string? SystemText(JsonNode? system)
    {
        switch (system)
        {
            case null: return null;
            case JsonValue v:
                var s = J.Str(v);
                return string.IsNullOrEmpty(s) ? null : s;
            case JsonArray blocks:
                var sb = new StringBuilder();
                foreach (var b in blocks)
                {
                    if (J.Str(b?["type"]) != "text") throw new AnthropicTranslationException("system: only text blocks are supported");
                    var text = J.Str(b?["text"]);
                    if (text is not null && text.StartsWith(BillingHeaderPrefix, StringComparison.Ordinal)) continue;
                    if (sb.Length > 0) sb.Append("\n\n");
                    sb.Append(text);
                }
                return sb.Length == 0 ? null : sb.ToString();
            default:
                throw new AnthropicTranslationException("system: Input should be a string or a list of text blocks");
        }
    }

    private static void AddUser(JsonArray messages, JsonNode? content, int index)
    {
        if (content is JsonValue)
        {
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = J.Str(content) ?? throw Bad(index) });
            return;
        }
        if (content is not JsonArray blocks) throw Bad(index);

        var parts = new JsonArray();
        var toolMessages = new List<JsonObject>();
        for (var b = 0; b < blocks.Count; b++)
        {
            var block = blocks[b] as JsonObject ?? throw Bad(index);
            switch (J.Str(block["type"]))
            {
                case "text":
                    parts.Add(new JsonObject { ["type"] = "text", ["text"] = J.Str(block["text"]) ?? "" });
                    break;
                case "image":
                    parts.Add(ImagePart(block["source"], $"messages.{index}.content.{b}"));
                    break;
                case "document":
                    parts.Add(DocumentPart(block, $"messages.{index}.content.{b}"));
                    break;
                case "tool_result":
                    toolMessages.Add(ToolMessage(block, parts, $"messages.{index}.content.{b}"));
                    break;
                default:
                    throw new AnthropicTranslationException($"messages.{index}.content.{b}.type: '{J.Str(block["type"])}' is not supported by this model's upstream");
            }
        }
        // NOTE: OpenAI needs tool messages right after the assistant's tool_calls, so they go before the user's own parts.
        foreach (var tm in toolMessages) messages.Add(tm);
        if (parts.Count > 0) messages.Add(new JsonObject { ["role"] = "user", ["content"] = Collapse(parts) });
    }

    /// <summary>All-text parts collapse to one string: some vLLM chat templates only accept string content.</summary>
    private static JsonNode Collapse(JsonArray parts)
    {
        if (parts.Any(p => J.Str(p?["type"]) != "text")) return parts;
        if (parts.Count == 1) return J.Str(parts[0]?["text"]) ?? "";
        return string.Join("\n", parts.Select(p => J.Str(p?["text"])));
    }

    private static JsonObject ToolMessage(JsonObject block, JsonArray userParts, string path)
    {
        var id = J.Str(block["tool_use_id"]) ?? throw new AnthropicTranslationException(path + ".tool_use_id: Field required");
        var sb = new StringBuilder();
        switch (block["content"])
        {
            case null: break;
            case JsonValue v: sb.Append(J.Str(v)); break;
            case JsonArray items:
                foreach (var item in items)
                {
                    switch (J.Str(item?["type"]))
                    {
                        case "text":
                            if (sb.Length > 0) sb.Append('\n');
                            sb.Append(J.Str(item?["text"]));
                            break;
                        case "image":
                            // OpenAI tool messages carry text only; the image follows in the user turn.
                            userParts.Add(ImagePart(item?["source"], path + ".content"));
                            break;
                    }
                }
                break;
        }
        var text = sb.ToString();
        if (J.Bool(block["is_error"])) text = "Error: " + text;
        return new JsonObject { ["role"] = "tool", ["tool_call_id"] = id, ["content"] = text };
    }

    private static JsonObject ImagePart(JsonNode? source, string path)
    {
        string url = J.Str(source?["type"]) switch
        {
            "base64" => $"data:{J.Str(source?["media_type"]) ?? "image/png"};base64,{J.Str(source?["data"])}",
            "url" => J.Str(source?["url"]) ?? throw new AnthropicTranslationException(path + ".source.url: Field required"),
            _ => throw new AnthropicTranslationException(path + ".source: only base64 and url image sources are supported"),
        };
        return new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } };
    }

    private static JsonObject DocumentPart(JsonObject block, string path)
    {
        var source = block["source"];
        return J.Str(source?["type"]) switch
        {
            "text" => new JsonObject { ["type"] = "text", ["text"] = J.Str(source?["data"]) ?? "" },
            "base64" => new JsonObject
            {
                ["type"] = "file",
                ["file"] = new JsonObject
                {
                    ["filename"] = J.Str(block["title"]) ?? "document.pdf",
                    ["file_data"] = $"data:{J.Str(source?["media_type"]) ?? "application/pdf"};base64,{J.Str(source?["data"])}",
                },
            },
            _ => throw new AnthropicTranslationException(path + ".source: only text and base64 document sources are supported"),
        };
    }

    private static void AddAssistant(JsonArray messages, JsonNode? content, int index)
    {
        if (content is JsonValue)
        {
            messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = J.Str(content) ?? throw Bad(index) });
            return;
        }
        if (content is not JsonArray blocks) throw Bad(index);
        var text = new StringBuilder();
        var toolCalls = new JsonArray();
        foreach (var block in blocks)
        {
            switch (J.Str(block?["type"]))
            {
                case "text":
                    text.Append(J.Str(block?["text"]));
                    break;
                case "tool_use":
                    toolCalls.Add(new JsonObject
                    {
                        ["id"] = J.Str(block?["id"]),
                        ["type"] = "function",
                        ["function"] = new JsonObject
                        {
                            ["name"] = J.Str(block?["name"]),
                            ["arguments"] = J.Compact(block?["input"] ?? new JsonObject()),
                        },
                    });
                    break;
                // thinking / redacted_thinking are Anthropic-signed and meaningless to another model: dropped.
            }
        }
        var message = new JsonObject { ["role"] = "assistant", ["content"] = text.Length > 0 ? text.ToString() : null };
        if (toolCalls.Count > 0) message["tool_calls"] = toolCalls;
        messages.Add(message);
    }

    private static JsonArray TranslateTools(JsonArray tools)
    {
        var result = new JsonArray();
        for (var i = 0; i < tools.Count; i++)
        {
            var tool = tools[i];
            var type = J.Str(tool?["type"]);
            if (type is not (null or "custom"))
            {
                throw new AnthropicTranslationException($"tools.{i}: server tool '{type}' is not supported by this model's upstream");
            }
            var function = new JsonObject { ["name"] = J.Str(tool?["name"]) ?? throw new AnthropicTranslationException($"tools.{i}.name: Field required") };
            if (J.Str(tool?["description"]) is { } d) function["description"] = d;
            function["parameters"] = tool?["input_schema"]?.DeepClone() ?? new JsonObject { ["type"] = "object" };
            result.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }
        return result;
    }

    private static JsonNode? TranslateToolChoice(JsonObject choice) => J.Str(choice["type"]) switch
    {
        "auto" => "auto",
        "any" => "required",
        "none" => "none",
        "tool" => new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = J.Str(choice["name"]) ?? throw new AnthropicTranslationException("tool_choice.name: Field required") },
        },
        _ => null,
    };

    private static AnthropicTranslationException Bad(int index) =>
        new($"messages.{index}.content: Input should be a string or a list of content blocks");
}
