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

/// <summary>Anthropic message -> OpenAI chat.completion.</summary>
public static class MessagesToChatResponse
{
    /// <summary>Translates a (non-streamed) Anthropic message.</summary>
    public static JsonObject Translate(JsonObject message, string? requestedModel = null, long? created = null)
    {
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var toolCalls = new JsonArray();
        if (message["content"] is JsonArray blocks)
        {
            foreach (var b in blocks)
            {
                switch (J.Str(b?["type"]))
                {
                    case "text": text.Append(J.Str(b?["text"])); break;
                    case "thinking": reasoning.Append(J.Str(b?["thinking"])); break;
                    case "tool_use":
                        toolCalls.Add(new JsonObject
                        {
                            ["id"] = J.Str(b?["id"]),
                            ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = J.Str(b?["name"]), ["arguments"] = J.Compact(b?["input"] ?? new JsonObject()) },
                        });
                        break;
                }
            }
        }
        var msg = new JsonObject
        {
            ["role"] = "assistant",
            ["content"] = text.Length > 0 || toolCalls.Count == 0 ? text.ToString() : null,
            ["refusal"] = null,
        };
        if (reasoning.Length > 0) msg["reasoning_content"] = reasoning.ToString();
        if (toolCalls.Count > 0) msg["tool_calls"] = toolCalls;
        return new JsonObject
        {
            ["id"] = ChatId(J.Str(message["id"])),
            ["object"] = "chat.completion",
            ["created"] = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = requestedModel ?? J.Str(message["model"]),
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = msg,
                ["logprobs"] = null,
                ["finish_reason"] = StopReasons.ToOpenAi(J.Str(message["stop_reason"])),
            }),
            ["usage"] = Usage(message["usage"]),
        };
    }

    /// <summary>chatcmpl- id derived from msg_ id.</summary>
    public static string ChatId(string? messageId) =>
        "chatcmpl-" + (string.IsNullOrEmpty(messageId) ? Guid.NewGuid().ToString("N")[..24]
            : messageId.StartsWith("msg_", StringComparison.Ordinal) ? messageId[4..] : messageId);

    /// <summary>OpenAI usage from Anthropic usage: prompt_tokens includes cache reads and writes.</summary>
    public static JsonObject Usage(JsonNode? usage)
    {
        var input = J.Long(usage?["input_tokens"]) ?? 0;
        var cacheRead = J.Long(usage?["cache_read_input_tokens"]) ?? 0;
        var cacheWrite = J.Long(usage?["cache_creation_input_tokens"]) ?? 0;
        var output = J.Long(usage?["output_tokens"]) ?? 0;
        var prompt = input + cacheRead + cacheWrite;
        var result = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = output,
            ["total_tokens"] = prompt + output,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cacheRead },
        };
        // NOTE: OpenAI has no field for cache writes, which cost more than plain input; they ride beside prompt_tokens
        // under Anthropic's names (as LiteLLM does), so the ledger and a cost-aware client can price them.
        if (cacheWrite > 0 && usage is JsonObject u)
        {
            var (fiveMinutes, oneHour) = UsageJson.CacheCreation(u);
            UsageJson.WriteAnthropicCacheCreation(result, fiveMinutes, oneHour);
        }
        return result;
    }
}

/// <summary>
/// Stateful converter of Anthropic stream events into OpenAI chat.completion.chunk SSE frames ending with
/// <c>data: [DONE]</c>. Not thread-safe: one per stream.
/// </summary>
public sealed class MessagesEventsToChatChunks
{
    private readonly SseFrameWriter _out;
    private readonly string? _requestedModel;
    private readonly bool _includeUsage;
    private readonly long _created;
    private readonly Dictionary<int, int> _toolIndexByBlock = [];
    private string _id = MessagesToChatResponse.ChatId(null);
    private string _model = "";
    private JsonObject _usage = new();
    private string? _stopReason;
    private bool _finished;

    /// <summary>Writes chunk frames to <paramref name="output"/>; a usage chunk is added when <paramref name="includeUsage"/>.</summary>
    public MessagesEventsToChatChunks(SseFrameWriter output, string? requestedModel = null, bool includeUsage = false, long? created = null)
    {
        _out = output;
        _requestedModel = requestedModel;
        _includeUsage = includeUsage;
        _created = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    /// <summary>True once [DONE] (or an error) was written.</summary>
    public bool Finished => _finished;

    /// <summary>Handles one Anthropic event (its parsed data; the type is read from the data).</summary>
    public void OnEvent(JsonObject evt)
    {
        if (_finished) return;
        switch (J.Str(evt["type"]))
        {
            case "message_start":
                var message = evt["message"];
                _id = MessagesToChatResponse.ChatId(J.Str(message?["id"]));
                _model = _requestedModel ?? J.Str(message?["model"]) ?? "";
                if (message?["usage"] is JsonObject u) Merge(u);
                Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);
                break;
            case "content_block_start":
                var block = evt["content_block"];
                var index = (int)(J.Long(evt["index"]) ?? 0);
                switch (J.Str(block?["type"]))
                {
                    case "tool_use":
                        var toolIndex = _toolIndexByBlock.Count;
                        _toolIndexByBlock[index] = toolIndex;
                        Chunk(new JsonObject
                        {
                            ["tool_calls"] = new JsonArray(new JsonObject
                            {
                                ["index"] = toolIndex,
                                ["id"] = J.Str(block?["id"]),
                                ["type"] = "function",
                                ["function"] = new JsonObject { ["name"] = J.Str(block?["name"]), ["arguments"] = "" },
                            }),
                        }, null);
                        break;
                    case "text" when J.Str(block?["text"]) is { Length: > 0 } initial:
                        Chunk(new JsonObject { ["content"] = initial }, null);
                        break;
                }
                break;
            case "content_block_delta":
                var delta = evt["delta"];
                switch (J.Str(delta?["type"]))
                {
                    case "text_delta":
                        Chunk(new JsonObject { ["content"] = J.Str(delta?["text"]) }, null);
                        break;
                    case "thinking_delta":
                        Chunk(new JsonObject { ["reasoning_content"] = J.Str(delta?["thinking"]) }, null);
                        break;
                    case "input_json_delta" when _toolIndexByBlock.TryGetValue((int)(J.Long(evt["index"]) ?? 0), out var ti):
                        Chunk(new JsonObject
                        {
                            ["tool_calls"] = new JsonArray(new JsonObject
                            {
                                ["index"] = ti,
                                ["function"] = new JsonObject { ["arguments"] = J.Str(delta?["partial_json"]) },
                            }),
                        }, null);
                        break;
                }
                break;
            case "message_delta":
                _stopReason = J.Str(evt["delta"]?["stop_reason"]) ?? _stopReason;
                if (evt["usage"] is JsonObject du) Merge(du);
                break;
            case "message_stop":
                Complete();
                break;
            case "error":
                Fail(J.Str(evt["error"]?["type"]) ?? "api_error", J.Str(evt["error"]?["message"]) ?? "upstream error");
                break;
        }
    }

    /// <summary>Writes the final chunk (finish_reason), the usage chunk when asked, and [DONE].</summary>
    public void Complete()
    {
        if (_finished) return;
        Chunk(new JsonObject(), StopReasons.ToOpenAi(_stopReason));
        if (_includeUsage)
        {
            _out.Write(null, new JsonObject
            {
                ["id"] = _id, ["object"] = "chat.completion.chunk", ["created"] = _created, ["model"] = _model,
                ["choices"] = new JsonArray(),
                ["usage"] = MessagesToChatResponse.Usage(_usage),
            });
        }
        _out.WriteRaw("[DONE]");
        _finished = true;
    }

    /// <summary>Ends the stream with an OpenAI-style error frame, then [DONE].</summary>
    public void Fail(string anthropicType, string message)
    {
        if (_finished) return;
        _out.Write(null, new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["message"] = message,
                ["type"] = AnthropicErrorMap.OpenAiTypeFor(anthropicType),
                ["param"] = null,
                ["code"] = anthropicType,
            },
        });
        _out.WriteRaw("[DONE]");
        _finished = true;
    }

    private void Merge(JsonObject usage)
    {
        foreach (var (k, v) in usage)
        {
            if (v is not null) _usage[k] = v.DeepClone();
        }
    }

    private void Chunk(JsonObject delta, string? finishReason) =>
        _out.Write(null, new JsonObject
        {
            ["id"] = _id,
            ["object"] = "chat.completion.chunk",
            ["created"] = _created,
            ["model"] = _model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["delta"] = delta,
                ["logprobs"] = null,
                ["finish_reason"] = finishReason,
            }),
        });
}
