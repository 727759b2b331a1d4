using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Streaming;

namespace LlmServer.Services.Responses;

/// <summary>
/// The parts of a Responses response object that do not come from the answer: its id, the request's settings
/// echoed back (as OpenAI does), and the mapping of chat's finish_reason and usage.
/// </summary>
public static class ResponseObjects
{
    /// <summary>A new response id in OpenAI's form (resp_ and hex), unique to this server.</summary>
    public static string NewId() => "resp_" + Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N")[..16];

    /// <summary>The response object for <paramref name="request"/> with the given status and no output yet.</summary>
    public static JsonObject Shell(JsonObject request, string id, long createdAt, string status)
    {
        var tools = new JsonArray();
        if (request["tools"] is JsonArray offered)
        {
            foreach (var tool in offered)
            {
                if (J.Str(tool?["type"]) == "function") tools.Add(tool!.DeepClone());
            }
        }
        var response = new JsonObject
        {
            ["id"] = id,
            ["object"] = "response",
            ["created_at"] = createdAt,
            ["status"] = status,
            ["background"] = false,
            ["error"] = null,
            ["incomplete_details"] = null,
            ["instructions"] = request["instructions"]?.DeepClone(),
            ["max_output_tokens"] = request["max_output_tokens"]?.DeepClone(),
            ["model"] = J.Str(request["model"]),
            ["output"] = new JsonArray(),
            ["parallel_tool_calls"] = request["parallel_tool_calls"] is JsonValue p && p.TryGetValue<bool>(out var parallel) ? parallel : true,
            ["previous_response_id"] = J.Str(request["previous_response_id"]),
            ["reasoning"] = new JsonObject { ["effort"] = J.Str(request["reasoning"]?["effort"]), ["summary"] = null },
            ["store"] = request["store"] is JsonValue s && s.TryGetValue<bool>(out var store) ? store : true,
            ["temperature"] = request["temperature"]?.DeepClone() ?? 1.0,
            ["text"] = request["text"] is JsonObject text ? text.DeepClone() : new JsonObject { ["format"] = new JsonObject { ["type"] = "text" } },
            ["tool_choice"] = request["tool_choice"]?.DeepClone() ?? "auto",
            ["tools"] = tools,
            ["top_p"] = request["top_p"]?.DeepClone() ?? 1.0,
            ["truncation"] = J.Str(request["truncation"]) ?? "disabled",
            ["metadata"] = request["metadata"] is JsonObject metadata ? metadata.DeepClone() : new JsonObject(),
        };
        // NOTE: user is a string when present; usage only once the response is complete (as OpenAI answers).
        if (J.Str(request["user"]) is { } user) response["user"] = user;
        return response;
    }

    /// <summary>Sets status (and incomplete_details) from chat's finish_reason: length and content_filter leave the response incomplete.</summary>
    public static void Finish(JsonObject response, string? finishReason)
    {
        var incomplete = finishReason switch { "length" => "max_output_tokens", "content_filter" => "content_filter", _ => null };
        response["status"] = incomplete is null ? "completed" : "incomplete";
        response["incomplete_details"] = incomplete is null ? null : new JsonObject { ["reason"] = incomplete };
    }

    /// <summary>Chat usage (prompt/completion tokens and their details) in the Responses shape.</summary>
    public static JsonObject? Usage(JsonNode? chatUsage)
    {
        if (chatUsage is not JsonObject u) return null;
        var input = J.Long(u["prompt_tokens"]) ?? 0;
        var output = J.Long(u["completion_tokens"]) ?? 0;
        return new JsonObject
        {
            ["input_tokens"] = input,
            ["input_tokens_details"] = new JsonObject
            {
                ["cached_tokens"] = J.Long(u["prompt_tokens_details"]?["cached_tokens"]) ?? 0,
                ["cache_write_tokens"] = J.Long(u["prompt_tokens_details"]?["cache_write_tokens"]) ?? 0,
            },
            ["output_tokens"] = output,
            ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = J.Long(u["completion_tokens_details"]?["reasoning_tokens"]) ?? 0 },
            ["total_tokens"] = J.Long(u["total_tokens"]) ?? input + output,
        };
    }

    internal static JsonObject MessageItem(string id, string text, string status) => new()
    {
        ["id"] = id,
        ["type"] = "message",
        ["status"] = status,
        ["role"] = "assistant",
        ["content"] = status == "in_progress" ? new JsonArray() : new JsonArray(TextPart(text)),
    };

    internal static JsonObject TextPart(string text) => new()
    {
        ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray(), ["logprobs"] = new JsonArray(),
    };

    internal static JsonObject ReasoningItem(string id, string text, string status) => new()
    {
        ["id"] = id,
        ["type"] = "reasoning",
        ["status"] = status,
        ["summary"] = new JsonArray(),
        ["content"] = status == "in_progress" ? new JsonArray() : new JsonArray(ReasoningPart(text)),
    };

    internal static JsonObject ReasoningPart(string text) => new() { ["type"] = "reasoning_text", ["text"] = text };

    /// <summary>The model's reasoning in a chat message or delta (vLLM's reasoning_content, or reasoning).</summary>
    internal static string? ReasoningOf(JsonNode? message) => J.Str(message?["reasoning_content"]) ?? J.Str(message?["reasoning"]);

    internal static JsonObject FunctionCallItem(string id, string callId, string name, string arguments, string status) => new()
    {
        ["id"] = id, ["type"] = "function_call", ["status"] = status, ["arguments"] = arguments, ["call_id"] = callId, ["name"] = name,
    };

    /// <summary>The item id suffix shared by a response's message and function call items.</summary>
    internal static string Suffix(string responseId) => responseId.StartsWith("resp_", StringComparison.Ordinal) ? responseId[5..] : responseId;
}

/// <summary>A chat.completion as the Responses response object a client of /v1/responses expects.</summary>
public static class ChatToResponsesResponse
{
    /// <summary>The response for <paramref name="completion"/>, answering <paramref name="request"/> (the client's Responses body).</summary>
    public static JsonObject Translate(JsonObject completion, JsonObject request, string id, long createdAt)
    {
        var response = ResponseObjects.Shell(request, id, createdAt, "completed");
        var output = (JsonArray)response["output"]!;
        var suffix = ResponseObjects.Suffix(id);
        var choice = completion["choices"] is JsonArray { Count: > 0 } choices ? choices[0] as JsonObject : null;
        var message = choice?["message"] as JsonObject;
        var text = message?["content"] switch
        {
            JsonValue v => J.Str(v),
            JsonArray parts => string.Concat(parts.Select(p => J.Str(p?["text"]))),
            _ => null,
        };
        if (ResponseObjects.ReasoningOf(message) is { Length: > 0 } reasoning) output.Add(ResponseObjects.ReasoningItem("rs_" + suffix, reasoning, "completed"));
        if (!string.IsNullOrEmpty(text) || message?["tool_calls"] is not JsonArray { Count: > 0 })
        {
            output.Add(ResponseObjects.MessageItem("msg_" + suffix, text ?? J.Str(message?["refusal"]) ?? "", "completed"));
        }
        if (message?["tool_calls"] is JsonArray calls)
        {
            for (var i = 0; i < calls.Count; i++)
            {
                var call = calls[i];
                output.Add(ResponseObjects.FunctionCallItem($"fc_{suffix}_{i}", J.Str(call?["id"]) ?? $"call_{suffix}_{i}",
                    J.Str(call?["function"]?["name"]) ?? "", J.Str(call?["function"]?["arguments"]) ?? "", "completed"));
            }
        }
        ResponseObjects.Finish(response, J.Str(choice?["finish_reason"]));
        if (ResponseObjects.Usage(completion["usage"]) is { } usage) response["usage"] = usage;
        return response;
    }
}

/// <summary>
/// Chat completion chunks as the Responses API's stream, in the order and shapes OpenAI emits and the SDKs'
/// stream helpers accumulate: response.created, response.in_progress; per message item output_item.added,
/// content_part.added, output_text.delta…, output_text.done, content_part.done, output_item.done (reasoning text:
/// the same with reasoning_text events in a reasoning item); per function
/// call output_item.added, function_call_arguments.delta…, function_call_arguments.done, output_item.done; then
/// response.completed (or an error event), each with its sequence_number. An item is done before the next
/// begins. <see cref="Finish"/> closes the items and returns the final response; <see cref="WriteCompleted"/>
/// sends it, so the caller can store it in between.
/// </summary>
public sealed class ChatChunksToResponsesEvents
{
    private readonly SseFrameWriter _out;
    private readonly JsonObject _response;
    private readonly string _suffix;
    private readonly List<JsonObject> _items = [];
    private readonly Dictionary<int, Call> _calls = [];
    private int _sequence;
    private bool _started;
    private Part? _part;
    private Call? _openCall;
    private string? _finishReason;
    private JsonNode? _usage;

    /// <summary>Writes into <paramref name="output"/> the events answering <paramref name="request"/> (the client's Responses body).</summary>
    public ChatChunksToResponsesEvents(SseFrameWriter output, JsonObject request, string id, long createdAt)
    {
        _out = output;
        _response = ResponseObjects.Shell(request, id, createdAt, "in_progress");
        _suffix = ResponseObjects.Suffix(id);
    }

    /// <summary>True once the stream ended (completed or failed).</summary>
    public bool Finished { get; private set; }

    /// <summary>Starts the stream (response.created, response.in_progress); done by the first chunk if not called.</summary>
    public void Start()
    {
        if (_started) return;
        _started = true;
        Emit("response.created", new JsonObject { ["response"] = _response.DeepClone() });
        Emit("response.in_progress", new JsonObject { ["response"] = _response.DeepClone() });
    }

    /// <summary>One chat.completion.chunk (or an error event's payload).</summary>
    public void OnChunk(JsonObject chunk)
    {
        if (Finished) return;
        Start();
        if (chunk["error"] is JsonObject error && chunk["choices"] is null)
        {
            Fail(J.Str(error["code"]) ?? J.Str(error["type"]) ?? "server_error", J.Str(error["message"]) ?? "The upstream failed.");
            return;
        }
        if (chunk["usage"] is JsonObject usage) _usage = usage;
        if (chunk["choices"] is not JsonArray { Count: > 0 } choices || choices[0] is not JsonObject choice) return;
        if (choice["delta"] is JsonObject delta)
        {
            if (ResponseObjects.ReasoningOf(delta) is { Length: > 0 } reasoning) OnPartText(true, reasoning);
            if (J.Str(delta["content"]) is { Length: > 0 } text) OnPartText(false, text);
            if (delta["tool_calls"] is JsonArray calls)
            {
                foreach (var c in calls)
                {
                    if (c is JsonObject call) OnToolCall(call);
                }
            }
        }
        if (J.Str(choice["finish_reason"]) is { } finish) _finishReason = finish;
    }

    /// <summary>Closes the open items and returns the final response object (status, output, usage), not yet sent.</summary>
    public JsonObject Finish()
    {
        Start();
        ClosePart();
        CloseCall();
        if (!_items.Any(i => J.Str(i["type"]) is "message" or "function_call"))
        {
            // NOTE: an empty answer is still one (empty) message, as OpenAI answers it.
            OpenPart(false);
            ClosePart();
        }
        var response = (JsonObject)_response.DeepClone();
        response["output"] = new JsonArray(_items.Select(i => (JsonNode)i.DeepClone()).ToArray());
        ResponseObjects.Finish(response, _finishReason);
        if (ResponseObjects.Usage(_usage) is { } usage) response["usage"] = usage;
        return response;
    }

    /// <summary>Sends the final event for <paramref name="response"/> (from <see cref="Finish"/>): response.completed or response.incomplete.</summary>
    public void WriteCompleted(JsonObject response)
    {
        if (Finished) return;
        Finished = true;
        Emit(J.Str(response["status"]) == "incomplete" ? "response.incomplete" : "response.completed", new JsonObject { ["response"] = response });
    }

    /// <summary>Ends the stream with the Responses API's error event.</summary>
    public void Fail(string code, string message)
    {
        if (Finished) return;
        Start();
        Finished = true;
        Emit("error", new JsonObject { ["code"] = code, ["message"] = message, ["param"] = null });
    }

    /// <summary>Text of the answer (a message item's output_text) or of the reasoning (a reasoning item's reasoning_text).</summary>
    private void OnPartText(bool reasoning, string text)
    {
        if (_part is { } open && open.Reasoning != reasoning) ClosePart();
        var part = _part ?? OpenPart(reasoning);
        part.Text.Append(text);
        Emit(reasoning ? "response.reasoning_text.delta" : "response.output_text.delta", reasoning
            ? new JsonObject { ["item_id"] = part.Id, ["output_index"] = part.OutputIndex, ["content_index"] = 0, ["delta"] = text }
            : new JsonObject { ["item_id"] = part.Id, ["output_index"] = part.OutputIndex, ["content_index"] = 0, ["delta"] = text, ["logprobs"] = new JsonArray() });
    }

    private Part OpenPart(bool reasoning)
    {
        CloseCall();
        var index = _items.Count;
        var id = (reasoning ? "rs_" : "msg_") + _suffix + (index == 0 ? "" : "_" + index);
        var part = _part = new Part(reasoning, index, id);
        _items.Add(reasoning ? ResponseObjects.ReasoningItem(id, "", "in_progress") : ResponseObjects.MessageItem(id, "", "in_progress"));
        Emit("response.output_item.added", new JsonObject { ["output_index"] = index, ["item"] = _items[index].DeepClone() });
        Emit("response.content_part.added", new JsonObject
        {
            ["item_id"] = id, ["output_index"] = index, ["content_index"] = 0,
            ["part"] = reasoning ? ResponseObjects.ReasoningPart("") : ResponseObjects.TextPart(""),
        });
        return part;
    }

    private void ClosePart()
    {
        if (_part is not { } part) return;
        _part = null;
        var text = part.Text.ToString();
        Emit(part.Reasoning ? "response.reasoning_text.done" : "response.output_text.done", part.Reasoning
            ? new JsonObject { ["item_id"] = part.Id, ["output_index"] = part.OutputIndex, ["content_index"] = 0, ["text"] = text }
            : new JsonObject { ["item_id"] = part.Id, ["output_index"] = part.OutputIndex, ["content_index"] = 0, ["text"] = text, ["logprobs"] = new JsonArray() });
        Emit("response.content_part.done", new JsonObject
        {
            ["item_id"] = part.Id, ["output_index"] = part.OutputIndex, ["content_index"] = 0,
            ["part"] = part.Reasoning ? ResponseObjects.ReasoningPart(text) : ResponseObjects.TextPart(text),
        });
        _items[part.OutputIndex] = part.Reasoning
            ? ResponseObjects.ReasoningItem(part.Id, text, "completed")
            : ResponseObjects.MessageItem(part.Id, text, "completed");
        Emit("response.output_item.done", new JsonObject { ["output_index"] = part.OutputIndex, ["item"] = _items[part.OutputIndex].DeepClone() });
    }

    private void OnToolCall(JsonObject delta)
    {
        var index = (int)(J.Long(delta["index"]) ?? 0);
        var fragment = J.Str(delta["function"]?["arguments"]);
        if (!_calls.TryGetValue(index, out var call))
        {
            ClosePart();
            CloseCall();
            call = new Call(_items.Count, $"fc_{_suffix}_{index}", J.Str(delta["id"]) ?? $"call_{_suffix}_{index}", J.Str(delta["function"]?["name"]) ?? "");
            _calls[index] = call;
            _openCall = call;
            _items.Add(ResponseObjects.FunctionCallItem(call.Id, call.CallId, call.Name, "", "in_progress"));
            Emit("response.output_item.added", new JsonObject { ["output_index"] = call.OutputIndex, ["item"] = _items[call.OutputIndex].DeepClone() });
        }
        if (string.IsNullOrEmpty(fragment)) return;
        call.Arguments.Append(fragment);
        if (call != _openCall)
        {
            // NOTE: a late fragment of an item already done: it still belongs in the final response.
            _items[call.OutputIndex]["arguments"] = call.Arguments.ToString();
            return;
        }
        Emit("response.function_call_arguments.delta", new JsonObject { ["item_id"] = call.Id, ["output_index"] = call.OutputIndex, ["delta"] = fragment });
    }

    private void CloseCall()
    {
        if (_openCall is not { } call) return;
        _openCall = null;
        var arguments = call.Arguments.ToString();
        Emit("response.function_call_arguments.done", new JsonObject
        {
            ["item_id"] = call.Id, ["output_index"] = call.OutputIndex, ["name"] = call.Name, ["arguments"] = arguments,
        });
        _items[call.OutputIndex] = ResponseObjects.FunctionCallItem(call.Id, call.CallId, call.Name, arguments, "completed");
        Emit("response.output_item.done", new JsonObject { ["output_index"] = call.OutputIndex, ["item"] = _items[call.OutputIndex].DeepClone() });
    }

    private void Emit(string type, JsonObject payload)
    {
        var data = new JsonObject { ["type"] = type };
        foreach (var (key, value) in payload.ToList())
        {
            payload.Remove(key);
            data[key] = value;
        }
        data["sequence_number"] = _sequence++;
        _out.Write(type, data);
    }

    private sealed class Part(bool reasoning, int outputIndex, string id)
    {
        public bool Reasoning { get; } = reasoning;
        public int OutputIndex { get; } = outputIndex;
        public string Id { get; } = id;
        public StringBuilder Text { get; } = new();
    }

    private sealed class Call(int outputIndex, string id, string callId, string name)
    {
        public int OutputIndex { get; } = outputIndex;
        public string Id { get; } = id;
        public string CallId { get; } = callId;
        public string Name { get; } = name;
        public StringBuilder Arguments { get; } = new();
    }
}
