using System.Text.Json.Nodes;
using LlmServer.Services.Pricing;
using LlmServer.Services.Streaming;

namespace LlmServer.Services.Anthropic;

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
