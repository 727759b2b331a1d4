using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Streaming;
using LlmServer.Services.Masking;

namespace LlmServer.Services.Anthropic;

/// <summary>Restores masked values in a complete Anthropic message (text, thinking, tool_use input).</summary>
public static class AnthropicResponseRestorer
{
    /// <summary>Restores, in place, every content block of <paramref name="message"/>.</summary>
    public static async ValueTask RestoreMessageAsync(JsonObject message, MaskingSession masking, CancellationToken cancellationToken)
    {
        if (!masking.RestoresResponses || message["content"] is not JsonArray content) return;
        foreach (var block in content)
        {
            if (block is not JsonObject b) continue;
            switch (J.Str(b["type"]))
            {
                case "text":
                    await RestoreFieldAsync(b, "text", masking, cancellationToken).ConfigureAwait(false);
                    break;
                case "thinking":
                    await RestoreFieldAsync(b, "thinking", masking, cancellationToken).ConfigureAwait(false);
                    break;
                case "tool_use" or "server_tool_use":
                    if (b["input"] is JsonNode input)
                    {
                        var json = input.ToJsonString(J.Options);
                        var restored = await masking.RestoreAsync(json, jsonEscaped: true, cancellationToken).ConfigureAwait(false);
                        if (!ReferenceEquals(restored, json) && restored != json) b["input"] = JsonNode.Parse(restored);
                    }
                    break;
            }
        }
    }

    private static async ValueTask RestoreFieldAsync(JsonObject block, string field, MaskingSession masking, CancellationToken cancellationToken)
    {
        if (J.Str(block[field]) is not { Length: > 0 } text) return;
        var restored = await masking.RestoreAsync(text, jsonEscaped: false, cancellationToken).ConfigureAwait(false);
        if (restored != text) block[field] = restored;
    }
}

/// <summary>
/// Restores masked values in an Anthropic SSE stream as it flows: one restorer per content block index
/// (text_delta and thinking_delta plain, input_json_delta JSON-escaped), flushed at content_block_stop. Frames
/// that need no change are copied byte for byte; only the tail of a possible placeholder is ever held back.
/// </summary>
public sealed class AnthropicSseRestorer(MaskingSession masking, string? publicModel = null)
{
    private readonly ArrayBufferWriter<byte> _pending = new(4096);
    private readonly Dictionary<int, BlockState> _blocks = [];

    private sealed record BlockState(StreamingRestorer Restorer, string DeltaType, string Field, AngleBracketUnescaper? Unescaper = null);

    /// <summary>Feeds raw SSE bytes; writes every complete frame (restored) to <paramref name="output"/>.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> chunk, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        _pending.Write(chunk.Span);
        var consumed = 0;
        while (true)
        {
            var span = _pending.WrittenMemory[consumed..];
            var (frameLength, separatorLength) = FindFrame(span.Span);
            if (frameLength < 0) break;
            await ProcessFrameAsync(span[..frameLength], span.Slice(frameLength, separatorLength), output, cancellationToken).ConfigureAwait(false);
            consumed += frameLength + separatorLength;
        }
        if (consumed > 0)
        {
            var rest = _pending.WrittenSpan[consumed..].ToArray();
            _pending.ResetWrittenCount();
            _pending.Write(rest);
        }
    }

    /// <summary>At the end of the stream: passes on an unterminated last frame and anything still held back.</summary>
    public async ValueTask CompleteAsync(IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        foreach (var (index, state) in _blocks)
        {
            var rest = state.Unescaper?.Flush() ?? "";
            var tail = rest.Length > 0 ? await state.Restorer.PushAsync(rest, cancellationToken).ConfigureAwait(false) : "";
            tail += await state.Restorer.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (tail.Length > 0) WriteDelta(output, index, state, tail);
        }
        _blocks.Clear();
        if (_pending.WrittenCount > 0)
        {
            output.Write(_pending.WrittenSpan);
            _pending.ResetWrittenCount();
        }
    }

    /// <summary>Length of the first frame and of the blank line after it; (-1, 0) when no frame is complete.</summary>
    private static (int Frame, int Separator) FindFrame(ReadOnlySpan<byte> span)
    {
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] != (byte)'\n') continue;
            if (i + 1 < span.Length && span[i + 1] == (byte)'\n') return (i + 1, 1);
            if (i + 2 < span.Length && span[i + 1] == (byte)'\r' && span[i + 2] == (byte)'\n') return (i + 1, 2);
        }
        return (-1, 0);
    }

    private async ValueTask ProcessFrameAsync(ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte> separator, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        var (eventName, data) = Parse(frame.Span);
        if (publicModel is not null && eventName == "message_start" && data is not null)
        {
            // NOTE: the upstream knows the model by another name (model table); the client sees the name it asked for.
            if (TryParse(data) is { } start && start["message"] is JsonObject m && m["model"] is not null)
            {
                m["model"] = publicModel;
                new SseFrameWriter(output).Write(eventName, start);
            }
            else
            {
                CopyFrame(output, frame, separator);
            }
            return;
        }
        if (data is null || eventName is not ("content_block_start" or "content_block_delta" or "content_block_stop"))
        {
            CopyFrame(output, frame, separator);
            return;
        }
        var node = TryParse(data);
        if (node is null || J.Long(node["index"]) is not { } longIndex)
        {
            CopyFrame(output, frame, separator);
            return;
        }
        var index = (int)longIndex;
        switch (eventName)
        {
            case "content_block_start":
            {
                var type = J.Str(node["content_block"]?["type"]);
                BlockState? state = type switch
                {
                    "text" => new BlockState(masking.CreateRestorer(), "text_delta", "text"),
                    "thinking" => new BlockState(masking.CreateRestorer(), "thinking_delta", "thinking"),
                    "tool_use" or "server_tool_use" => new BlockState(masking.CreateRestorer(jsonEscaped: true), "input_json_delta", "partial_json", new AngleBracketUnescaper()),
                    _ => null,
                };
                if (state is not null) _blocks[index] = state;
                if (type == "text" && J.Str(node["content_block"]?["text"]) is { Length: > 0 } initial)
                {
                    node["content_block"]!["text"] = await masking.RestoreAsync(initial, false, cancellationToken).ConfigureAwait(false);
                    new SseFrameWriter(output).Write(eventName, node);
                    return;
                }
                CopyFrame(output, frame, separator);
                return;
            }
            case "content_block_delta":
            {
                if (!_blocks.TryGetValue(index, out var state) || node["delta"] is not JsonObject delta || J.Str(delta["type"]) != state.DeltaType
                    || J.Str(delta[state.Field]) is not { } text)
                {
                    CopyFrame(output, frame, separator);
                    return;
                }
                var emit = await state.Restorer.PushAsync(state.Unescaper?.Push(text) ?? text, cancellationToken).ConfigureAwait(false);
                if (emit == text)
                {
                    CopyFrame(output, frame, separator);
                }
                else if (emit.Length > 0)
                {
                    delta[state.Field] = emit;
                    new SseFrameWriter(output).Write(eventName, node);
                }
                return;
            }
            default:
            {
                if (_blocks.Remove(index, out var state))
                {
                    var rest = state.Unescaper?.Flush() ?? "";
                    var tail = rest.Length > 0 ? await state.Restorer.PushAsync(rest, cancellationToken).ConfigureAwait(false) : "";
                    tail += await state.Restorer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    if (tail.Length > 0) WriteDelta(output, index, state, tail);
                }
                CopyFrame(output, frame, separator);
                return;
            }
        }
    }

    private static JsonObject? TryParse(string data)
    {
        try
        {
            return JsonNode.Parse(data) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void WriteDelta(IBufferWriter<byte> output, int index, BlockState state, string text) =>
        new SseFrameWriter(output).Write("content_block_delta", new JsonObject
        {
            ["type"] = "content_block_delta",
            ["index"] = index,
            ["delta"] = new JsonObject { ["type"] = state.DeltaType, [state.Field] = text },
        });

    private static void CopyFrame(IBufferWriter<byte> output, ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte> separator)
    {
        output.Write(frame.Span);
        output.Write(separator.Span);
    }

    private static (string? Event, string? Data) Parse(ReadOnlySpan<byte> frame)
    {
        string? name = null;
        StringBuilder? data = null;
        foreach (var raw in Encoding.UTF8.GetString(frame).Split('\n'))
        {
            var line = raw.EndsWith('\r') ? raw[..^1] : raw;
            if (line.Length == 0 || line[0] == ':') continue;
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.Length > 0 && value[0] == ' ') value = value[1..];
            if (field == "event") name = value;
            else if (field == "data")
            {
                if (data is null) data = new StringBuilder(value);
                else data.Append('\n').Append(value);
            }
        }
        return (name, data?.ToString());
    }
}

/// <summary>
/// Streamed JSON text may spell <c>&lt;</c> and <c>&gt;</c> as <c>\u003c</c> / <c>\u003e</c> (.NET's default encoder does);
/// placeholders are only recognised literally, so those escapes are turned back into the characters (same JSON value).
/// An escape split across deltas is held back until it is complete.
/// </summary>
internal sealed class AngleBracketUnescaper
{
    private string _pending = "";

    public string Push(string delta)
    {
        var text = _pending.Length == 0 ? delta : _pending + delta;
        _pending = "";
        if (text.IndexOf('\\') < 0) return text;
        var sb = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c != '\\')
            {
                sb.Append(c);
                i++;
                continue;
            }
            if (i + 1 >= text.Length)
            {
                _pending = text[i..];
                break;
            }
            if (text[i + 1] != 'u')
            {
                // NOTE: any other escape (\\ included) is copied as a pair, so an escaped backslash never starts a \u.
                sb.Append(c).Append(text[i + 1]);
                i += 2;
                continue;
            }
            if (i + 6 > text.Length)
            {
                _pending = text[i..];
                break;
            }
            var hex = text.AsSpan(i + 2, 4);
            if (hex.Equals("003c", StringComparison.OrdinalIgnoreCase)) sb.Append('<');
            else if (hex.Equals("003e", StringComparison.OrdinalIgnoreCase)) sb.Append('>');
            else sb.Append(text, i, 6);
            i += 6;
        }
        return sb.ToString();
    }

    public string Flush()
    {
        var rest = _pending;
        _pending = "";
        return rest;
    }
}
