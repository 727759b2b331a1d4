using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Pricing;
using LlmServer.Services.Streaming;

namespace LlmServer.Services.Anthropic;

/// <summary>OpenAI chat.completion response -> Anthropic message.</summary>
public static class ChatToMessagesResponse
{
    /// <summary>Translates a chat.completion into an Anthropic message.</summary>
    /// <param name="completion">The upstream's chat.completion.</param>
    /// <param name="requestedModel">The model the client asked for (shown back to it), or null for the upstream's.</param>
    /// <param name="stopSequences">The request's stop_sequences, to tell which one matched when the upstream says (vLLM's stop_reason).</param>
    public static JsonObject Translate(JsonObject completion, string? requestedModel = null, JsonArray? stopSequences = null)
    {
        var choice = completion["choices"] is JsonArray { Count: > 0 } choices ? choices[0] as JsonObject : null;
        var message = choice?["message"] as JsonObject;
        var content = new JsonArray();

        var reasoning = J.Str(message?["reasoning_content"]) ?? J.Str(message?["reasoning"]);
        if (!string.IsNullOrEmpty(reasoning))
        {
            content.Add(new JsonObject { ["type"] = "thinking", ["thinking"] = reasoning, ["signature"] = "" });
        }
        var text = J.Str(message?["content"]) ?? J.Str(message?["refusal"]);
        if (!string.IsNullOrEmpty(text)) content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
        if (message?["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls)
            {
                content.Add(ToolUse(J.Str(call?["id"]), J.Str(call?["function"]?["name"]), J.Str(call?["function"]?["arguments"])));
            }
        }
        else if (message?["function_call"] is JsonObject fc)
        {
            content.Add(ToolUse(null, J.Str(fc["name"]), J.Str(fc["arguments"])));
        }

        var finish = J.Str(choice?["finish_reason"]);
        var (stopReason, stopSequence) = Stop(finish, choice?["stop_reason"], stopSequences);
        return new JsonObject
        {
            ["id"] = MessageId(J.Str(completion["id"])),
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = requestedModel ?? J.Str(completion["model"]),
            ["content"] = content,
            ["stop_reason"] = stopReason,
            ["stop_sequence"] = stopSequence,
            ["usage"] = Usage(completion["usage"]),
        };
    }

    /// <summary>msg_ id derived from the upstream's id (chatcmpl-abc -> msg_abc), or a fresh one.</summary>
    public static string MessageId(string? upstreamId)
    {
        if (string.IsNullOrEmpty(upstreamId)) return "msg_" + Guid.NewGuid().ToString("N")[..24];
        if (upstreamId.StartsWith("msg_", StringComparison.Ordinal)) return upstreamId;
        var dash = upstreamId.IndexOf('-');
        return "msg_" + (dash >= 0 && dash < upstreamId.Length - 1 ? upstreamId[(dash + 1)..] : upstreamId);
    }

    /// <summary>The tool_use id shown to the client: the upstream's call id, kept so tool_result maps back to it.</summary>
    public static string ToolUseId(string? callId) =>
        string.IsNullOrEmpty(callId) ? "toolu_" + Guid.NewGuid().ToString("N")[..24] : callId;

    /// <summary>stop_reason and stop_sequence from a finish_reason and (vLLM) the matched stop string.</summary>
    public static (string StopReason, string? StopSequence) Stop(string? finishReason, JsonNode? matched, JsonArray? stopSequences)
    {
        if (finishReason == "stop" && J.Str(matched) is { } m && stopSequences is not null
            && stopSequences.Any(s => J.Str(s) == m))
        {
            return ("stop_sequence", m);
        }
        return (StopReasons.ToAnthropic(finishReason), null);
    }

    /// <summary>Anthropic usage from OpenAI usage: input_tokens excludes cache reads, as Anthropic counts them.</summary>
    public static JsonObject Usage(JsonNode? usage)
    {
        var prompt = J.Long(usage?["prompt_tokens"]) ?? 0;
        var cached = J.Long(usage?["prompt_tokens_details"]?["cached_tokens"]) ?? 0;
        var (fiveMinutes, oneHour) = usage is JsonObject u ? UsageJson.CacheCreation(u) : (0, 0);
        var result = new JsonObject
        {
            ["input_tokens"] = Math.Max(0, prompt - cached - fiveMinutes - oneHour),
            ["output_tokens"] = J.Long(usage?["completion_tokens"]) ?? 0,
        };
        UsageJson.WriteAnthropicCacheCreation(result, fiveMinutes, oneHour);
        result["cache_read_input_tokens"] = cached;
        return result;
    }

    private static JsonObject ToolUse(string? id, string? name, string? arguments) => new()
    {
        ["type"] = "tool_use",
        ["id"] = ToolUseId(id),
        ["name"] = name ?? "",
        ["input"] = J.ParseArguments(arguments),
    };
}

/// <summary>
/// Stateful converter of an OpenAI chat.completion.chunk stream into Anthropic stream events, in Anthropic's order:
/// message_start, then per content block content_block_start (ping after the first), content_block_delta...,
/// content_block_stop, then message_delta (stop_reason, usage) and message_stop. Not thread-safe: one per stream.
/// </summary>
public sealed class ChatChunksToMessagesStream
{
    private enum BlockKind { None, Text, Thinking, Tool }

    private readonly SseFrameWriter _out;
    private readonly string? _requestedModel;
    private readonly JsonArray? _stopSequences;
    private readonly Dictionary<int, int> _toolBlocks = [];
    private bool _started;
    private bool _pinged;
    private bool _finished;
    private BlockKind _kind;
    private int _blockIndex = -1;
    private int _currentToolIndex = -1;
    private string? _finishReason;
    private JsonNode? _matchedStop;
    private JsonNode? _usage;

    /// <summary>Writes Anthropic SSE frames to <paramref name="output"/>.</summary>
    public ChatChunksToMessagesStream(SseFrameWriter output, string? requestedModel = null, JsonArray? stopSequences = null)
    {
        _out = output;
        _requestedModel = requestedModel;
        _stopSequences = stopSequences;
    }

    /// <summary>True once the upstream said why it stopped (a finish_reason was seen).</summary>
    public bool SawFinish => _finishReason is not null;

    /// <summary>True once message_stop or an error event was written.</summary>
    public bool Finished => _finished;

    /// <summary>The final usage reported by the upstream (OpenAI shape), if any.</summary>
    public JsonNode? UpstreamUsage => _usage;

    /// <summary>Handles one chunk (the parsed data of an SSE event other than [DONE]).</summary>
    public void OnChunk(JsonObject chunk)
    {
        if (_finished) return;
        if (chunk["usage"] is JsonObject usage) _usage = usage;
        EnsureStarted(chunk);
        if (chunk["choices"] is not JsonArray { Count: > 0 } choices || choices[0] is not JsonObject choice) return;

        if (choice["delta"] is JsonObject delta)
        {
            var reasoning = J.Str(delta["reasoning_content"]) ?? J.Str(delta["reasoning"]);
            if (!string.IsNullOrEmpty(reasoning))
            {
                Open(BlockKind.Thinking, () => new JsonObject { ["type"] = "thinking", ["thinking"] = "", ["signature"] = "" });
                Delta(new JsonObject { ["type"] = "thinking_delta", ["thinking"] = reasoning });
            }
            var text = J.Str(delta["content"]);
            if (!string.IsNullOrEmpty(text))
            {
                Open(BlockKind.Text, () => new JsonObject { ["type"] = "text", ["text"] = "" });
                Delta(new JsonObject { ["type"] = "text_delta", ["text"] = text });
            }
            if (delta["tool_calls"] is JsonArray calls)
            {
                for (var i = 0; i < calls.Count; i++) OnToolCall(calls[i] as JsonObject, i);
            }
            else if (delta["function_call"] is JsonObject fc)
            {
                OnToolCall(new JsonObject { ["index"] = 0, ["function"] = fc.DeepClone() }, 0);
            }
        }
        if (J.Str(choice["finish_reason"]) is { } finish)
        {
            _finishReason = finish;
            _matchedStop = choice["stop_reason"]?.DeepClone();
        }
    }

    /// <summary>Ends the message: closes the open block, writes message_delta and message_stop.</summary>
    public void Complete()
    {
        if (_finished) return;
        EnsureStarted(null);
        if (_blockIndex < 0)
        {
            Open(BlockKind.Text, () => new JsonObject { ["type"] = "text", ["text"] = "" });
        }
        Close();
        var (stopReason, stopSequence) = ChatToMessagesResponse.Stop(_finishReason, _matchedStop, _stopSequences);
        var usage = ChatToMessagesResponse.Usage(_usage);
        _out.Write("message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = stopReason, ["stop_sequence"] = stopSequence },
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = usage["input_tokens"]!.DeepClone(),
                ["cache_creation_input_tokens"] = 0,
                ["cache_read_input_tokens"] = usage["cache_read_input_tokens"]!.DeepClone(),
                ["output_tokens"] = usage["output_tokens"]!.DeepClone(),
            },
        });
        _out.Write("message_stop", new JsonObject { ["type"] = "message_stop" });
        _finished = true;
    }

    /// <summary>Ends the stream with an Anthropic error event (after a 200 no error body can be sent).</summary>
    public void Fail(string type, string message)
    {
        if (_finished) return;
        _out.Write("error", new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
        });
        _finished = true;
    }

    private void OnToolCall(JsonObject? call, int position)
    {
        if (call is null) return;
        var index = (int)(J.Long(call["index"]) ?? position);
        var function = call["function"] as JsonObject;
        if (!_toolBlocks.TryGetValue(index, out var block))
        {
            var id = ChatToMessagesResponse.ToolUseId(J.Str(call["id"]));
            var name = J.Str(function?["name"]) ?? "";
            Open(BlockKind.Tool, () => new JsonObject { ["type"] = "tool_use", ["id"] = id, ["name"] = name, ["input"] = new JsonObject() }, force: true);
            _toolBlocks[index] = _blockIndex;
            _currentToolIndex = index;
            block = _blockIndex;
        }
        var args = J.Str(function?["arguments"]);
        // NOTE: OpenAI streams parallel tool calls one after another; arguments of a call whose block was
        // already closed cannot be expressed in Anthropic's event order and are dropped.
        if (!string.IsNullOrEmpty(args) && block == _blockIndex && _kind == BlockKind.Tool && _currentToolIndex == index)
        {
            Delta(new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = args });
        }
    }

    private void EnsureStarted(JsonObject? chunk)
    {
        if (_started) return;
        _started = true;
        var usage = ChatToMessagesResponse.Usage(chunk?["usage"]);
        _out.Write("message_start", new JsonObject
        {
            ["type"] = "message_start",
            ["message"] = new JsonObject
            {
                ["id"] = ChatToMessagesResponse.MessageId(J.Str(chunk?["id"])),
                ["type"] = "message",
                ["role"] = "assistant",
                ["model"] = _requestedModel ?? J.Str(chunk?["model"]) ?? "",
                ["content"] = new JsonArray(),
                ["stop_reason"] = null,
                ["stop_sequence"] = null,
                ["usage"] = usage,
            },
        });
    }

    private void Open(BlockKind kind, Func<JsonObject> block, bool force = false)
    {
        if (_kind == kind && !force) return;
        Close();
        _kind = kind;
        _blockIndex++;
        _out.Write("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = _blockIndex, ["content_block"] = block() });
        if (!_pinged)
        {
            _pinged = true;
            _out.Write("ping", new JsonObject { ["type"] = "ping" });
        }
    }

    private void Delta(JsonObject delta) =>
        _out.Write("content_block_delta", new JsonObject { ["type"] = "content_block_delta", ["index"] = _blockIndex, ["delta"] = delta });

    private void Close()
    {
        if (_kind == BlockKind.None) return;
        _out.Write("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = _blockIndex });
        _kind = BlockKind.None;
        _currentToolIndex = -1;
    }
}
