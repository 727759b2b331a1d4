using LlmServer.Services.Exchange;
using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Masking;

namespace LlmServer.Services.Dialects.OpenAi;

/// <summary>
/// Puts the masked originals back into OpenAI-shaped answers: chat completions (message content, tool-call
/// arguments JSON-escaped), completions (text), responses (output_text, function_call arguments), plain and
/// streamed. Streams keep one <see cref="StreamingRestorer"/> per choice / tool call / output part, so a
/// placeholder split across chunks is restored whole while nothing else is held back; held text is flushed at
/// finish_reason, at the part's done event, or before [DONE]. One instance per request.
/// </summary>
public sealed class OpenAiResponseRestorer(MaskingSession session, ExchangeSurface route)
{
    private static readonly JsonSerializerOptions s_json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly SearchValues<char> s_open = SearchValues.Create("<\uFF1C");

    private readonly Dictionary<string, StreamingRestorer> _restorers = new(StringComparer.Ordinal);
    private JsonNode? _lastId;
    private JsonNode? _lastModel;
    private JsonNode? _lastCreated;

    /// <summary>A complete JSON answer with originals restored (the input bytes when nothing changed).</summary>
    public async ValueTask<ReadOnlyMemory<byte>> RestoreBodyAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body.Span);
        }
        catch (JsonException)
        {
            return body;
        }
        if (root is not JsonObject o) return body;
        var changed = false;
        if (o["choices"] is JsonArray choices)
        {
            foreach (var c in choices)
            {
                if (c is not JsonObject choice) continue;
                changed |= await RestoreAtAsync(choice, "text", false, cancellationToken);
                if (choice["message"] is JsonObject message)
                {
                    changed |= await RestoreAtAsync(message, "content", false, cancellationToken);
                    changed |= await RestoreAtAsync(message, "reasoning_content", false, cancellationToken);
                    if (message["tool_calls"] is JsonArray calls)
                    {
                        foreach (var call in calls)
                        {
                            if (call?["function"] is JsonObject fn) changed |= await RestoreAtAsync(fn, "arguments", true, cancellationToken);
                        }
                    }
                    if (message["function_call"] is JsonObject legacy) changed |= await RestoreAtAsync(legacy, "arguments", true, cancellationToken);
                }
            }
        }
        changed |= await RestoreResponseAsync(o, cancellationToken);
        return changed ? Encoding.UTF8.GetBytes(o.ToJsonString(s_json)) : body;
    }

    /// <summary>
    /// One SSE event (bytes, its data: line at <paramref name="dataOffset"/>); returns the bytes to send in its place
    /// (possibly two events: a held-back tail emitted as its own delta before a done event), or null to send it unchanged.
    /// </summary>
    public async ValueTask<byte[]?> RewriteEventAsync(ReadOnlyMemory<byte> ev, int dataOffset, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        // NOTE: an event can only need work when it may hold a placeholder opener ('<' or '＜', raw or JSON-escaped)
        // or when a restorer still holds text back (to flush at finish_reason / done); anything else passes unparsed.
        if (!HasPending() && !MayHoldOpener(payload.Span)) return null;
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(payload.Span);
        }
        catch (JsonException)
        {
            return null;
        }
        if (root is not JsonObject o) return null;
        byte[]? before = null;
        bool changed;
        if (route == ExchangeSurface.Responses)
        {
            (changed, before) = await RewriteResponsesEventAsync(o, cancellationToken);
        }
        else
        {
            changed = await RewriteChunkAsync(o, cancellationToken);
        }
        if (!changed) return null;
        var head = ev.Span[..dataOffset];
        var json = Encoding.UTF8.GetBytes(o.ToJsonString(s_json));
        var result = new byte[(before?.Length ?? 0) + head.Length + 6 + json.Length + 2];
        var at = 0;
        if (before is not null)
        {
            before.CopyTo(result, 0);
            at = before.Length;
        }
        head.CopyTo(result.AsSpan(at));
        at += head.Length;
        "data: "u8.CopyTo(result.AsSpan(at));
        at += 6;
        json.CopyTo(result, at);
        at += json.Length;
        result[at] = (byte)'\n';
        result[at + 1] = (byte)'\n';
        return result;
    }

    /// <summary>Before [DONE] (or the end of the stream): a chunk with whatever is still held back, or null.</summary>
    public async ValueTask<byte[]?> FlushAllAsync(CancellationToken cancellationToken)
    {
        if (route == ExchangeSurface.Responses || _restorers.Count == 0) return null;
        var choices = new JsonArray();
        foreach (var (key, restorer) in _restorers)
        {
            var tail = await restorer.FlushAsync(cancellationToken);
            if (tail.Length == 0) continue;
            var (index, tool) = ParseKey(key);
            JsonObject choice;
            if (route == ExchangeSurface.Completions)
            {
                choice = new JsonObject { ["index"] = index, ["text"] = tail, ["finish_reason"] = null };
            }
            else
            {
                var delta = tool < 0
                    ? new JsonObject { ["content"] = tail }
                    : new JsonObject { ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = tool, ["function"] = new JsonObject { ["arguments"] = tail } }) };
                choice = new JsonObject { ["index"] = index, ["delta"] = delta, ["finish_reason"] = null };
            }
            choices.Add(choice);
        }
        if (choices.Count == 0) return null;
        var chunk = new JsonObject
        {
            ["id"] = _lastId?.DeepClone(),
            ["object"] = route == ExchangeSurface.Completions ? "text_completion" : "chat.completion.chunk",
            ["created"] = _lastCreated?.DeepClone(),
            ["model"] = _lastModel?.DeepClone(),
            ["choices"] = choices,
        };
        return Encoding.UTF8.GetBytes("data: " + chunk.ToJsonString(s_json) + "\n\n");
    }

    private async ValueTask<bool> RewriteChunkAsync(JsonObject o, CancellationToken cancellationToken)
    {
        _lastId = o["id"] ?? _lastId;
        _lastModel = o["model"] ?? _lastModel;
        _lastCreated = o["created"] ?? _lastCreated;
        if (o["choices"] is not JsonArray choices) return false;
        var changed = false;
        for (var p = 0; p < choices.Count; p++)
        {
            if (choices[p] is not JsonObject choice) continue;
            var index = choice["index"] is JsonValue iv && iv.TryGetValue<int>(out var i) ? i : p;
            var finished = choice["finish_reason"] is JsonValue fr && fr.GetValueKind() == JsonValueKind.String;
            if (route == ExchangeSurface.Completions)
            {
                changed |= await PushAtAsync(choice, "text", Key(index, -1), false, cancellationToken);
                continue;
            }
            var delta = choice["delta"] as JsonObject;
            if (delta is not null)
            {
                changed |= await PushAtAsync(delta, "content", Key(index, -1), false, cancellationToken);
                if (delta["tool_calls"] is JsonArray calls)
                {
                    foreach (var call in calls)
                    {
                        if (call is not JsonObject tc) continue;
                        var t = tc["index"] is JsonValue tv && tv.TryGetValue<int>(out var ti) ? ti : 0;
                        if (tc["function"] is JsonObject fn) changed |= await PushAtAsync(fn, "arguments", Key(index, t), true, cancellationToken);
                    }
                }
            }
            if (finished)
            {
                changed |= await FlushChoiceIntoAsync(choice, index, cancellationToken);
            }
        }
        return changed;
    }

    /// <summary>At finish_reason: held-back text of the choice goes into this chunk's delta.</summary>
    private async ValueTask<bool> FlushChoiceIntoAsync(JsonObject choice, int index, CancellationToken cancellationToken)
    {
        var changed = false;
        var prefix = index.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":";
        foreach (var (key, restorer) in _restorers)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var tail = await restorer.FlushAsync(cancellationToken);
            if (tail.Length == 0) continue;
            changed = true;
            var (_, tool) = ParseKey(key);
            if (route == ExchangeSurface.Completions)
            {
                choice["text"] = ((string?)choice["text"] ?? "") + tail;
                continue;
            }
            if (choice["delta"] is not JsonObject delta) choice["delta"] = delta = new JsonObject();
            if (tool < 0)
            {
                delta["content"] = (delta["content"] is JsonValue cv && cv.TryGetValue<string>(out var c) ? c : "") + tail;
                continue;
            }
            if (delta["tool_calls"] is not JsonArray calls) delta["tool_calls"] = calls = new JsonArray();
            var entry = calls.OfType<JsonObject>().FirstOrDefault(x => x["index"] is JsonValue v && v.TryGetValue<int>(out var n) && n == tool);
            if (entry is null) calls.Add(entry = new JsonObject { ["index"] = tool });
            if (entry["function"] is not JsonObject fn) entry["function"] = fn = new JsonObject();
            fn["arguments"] = (fn["arguments"] is JsonValue av && av.TryGetValue<string>(out var a) ? a : "") + tail;
        }
        return changed;
    }

    private async ValueTask<(bool Changed, byte[]? Before)> RewriteResponsesEventAsync(JsonObject o, CancellationToken cancellationToken)
    {
        var type = o["type"] is JsonValue tv && tv.TryGetValue<string>(out var t) ? t : null;
        var output = o["output_index"] is JsonValue ov && ov.TryGetValue<int>(out var oi) ? oi : 0;
        var part = o["content_index"] is JsonValue cv && cv.TryGetValue<int>(out var ci) ? ci : 0;
        switch (type)
        {
            case "response.output_text.delta":
                return (await PushAtAsync(o, "delta", Key(output, part), false, cancellationToken), null);
            case "response.function_call_arguments.delta":
                return (await PushAtAsync(o, "delta", Key(output, -1), true, cancellationToken), null);
            case "response.output_text.done":
            {
                var before = await TailEventAsync(o, Key(output, part), "response.output_text.delta", "text", cancellationToken);
                var changed = await RestoreAtAsync(o, "text", false, cancellationToken);
                return (changed || before is not null, before);
            }
            case "response.function_call_arguments.done":
            {
                var before = await TailEventAsync(o, Key(output, -1), "response.function_call_arguments.delta", "arguments", cancellationToken);
                var changed = await RestoreAtAsync(o, "arguments", true, cancellationToken);
                return (changed || before is not null, before);
            }
            case "response.content_part.done" or "response.content_part.added":
                return (o["part"] is JsonObject p && await RestoreAtAsync(p, "text", false, cancellationToken), null);
            case "response.output_item.done" or "response.output_item.added":
                return (o["item"] is JsonObject item && await RestoreItemAsync(item, cancellationToken), null);
            case "response.completed" or "response.incomplete" or "response.failed" or "response.in_progress" or "response.created":
                return (o["response"] is JsonObject r && await RestoreResponseAsync(r, cancellationToken), null);
            default:
                return (false, null);
        }
    }

    /// <summary>The held-back tail of a streamed part, as one more delta event sent before its done event.</summary>
    private async ValueTask<byte[]?> TailEventAsync(JsonObject done, string key, string deltaType, string fullField, CancellationToken cancellationToken)
    {
        if (!_restorers.Remove(key, out var restorer)) return null;
        var tail = await restorer.FlushAsync(cancellationToken);
        if (tail.Length == 0) return null;
        var delta = done.DeepClone().AsObject();
        delta.Remove(fullField);
        delta["type"] = deltaType;
        delta["delta"] = tail;
        return Encoding.UTF8.GetBytes("event: " + deltaType + "\ndata: " + delta.ToJsonString(s_json) + "\n\n");
    }

    private async ValueTask<bool> RestoreResponseAsync(JsonObject response, CancellationToken cancellationToken)
    {
        var changed = await RestoreAtAsync(response, "output_text", false, cancellationToken);
        if (response["output"] is JsonArray output)
        {
            foreach (var item in output)
            {
                if (item is JsonObject i) changed |= await RestoreItemAsync(i, cancellationToken);
            }
        }
        return changed;
    }

    private async ValueTask<bool> RestoreItemAsync(JsonObject item, CancellationToken cancellationToken)
    {
        var changed = await RestoreAtAsync(item, "arguments", true, cancellationToken);
        if (item["content"] is JsonArray parts)
        {
            foreach (var p in parts)
            {
                if (p is JsonObject part) changed |= await RestoreAtAsync(part, "text", false, cancellationToken);
            }
        }
        if (item["summary"] is JsonArray summary)
        {
            foreach (var p in summary)
            {
                if (p is JsonObject part) changed |= await RestoreAtAsync(part, "text", false, cancellationToken);
            }
        }
        return changed;
    }

    private async ValueTask<bool> RestoreAtAsync(JsonObject parent, string name, bool jsonEscaped, CancellationToken cancellationToken)
    {
        if (parent[name] is not JsonValue v || !v.TryGetValue<string>(out var text) || text.AsSpan().IndexOfAny(s_open) < 0) return false;
        var restored = await session.RestoreAsync(text, jsonEscaped, cancellationToken);
        if (string.Equals(restored, text, StringComparison.Ordinal)) return false;
        parent[name] = restored;
        return true;
    }

    private async ValueTask<bool> PushAtAsync(JsonObject parent, string name, string key, bool jsonEscaped, CancellationToken cancellationToken)
    {
        if (parent[name] is not JsonValue v || !v.TryGetValue<string>(out var text)) return false;
        if (!_restorers.TryGetValue(key, out var restorer))
        {
            if (text.AsSpan().IndexOfAny(s_open) < 0) return false;
            _restorers[key] = restorer = session.CreateRestorer(jsonEscaped);
        }
        var emit = await restorer.PushAsync(text, cancellationToken);
        if (string.Equals(emit, text, StringComparison.Ordinal)) return false;
        parent[name] = emit;
        return true;
    }

    private bool HasPending()
    {
        foreach (var r in _restorers.Values)
        {
            if (r.PendingLength > 0) return true;
        }
        return false;
    }

    private static readonly SearchValues<byte> s_openerBytes = SearchValues.Create("<\\"u8);

    /// <summary>'&lt;' or '＜' raw, or JSON-escaped (\u003c, \uff1c, any case), anywhere in the payload.</summary>
    internal static bool MayHoldOpener(ReadOnlySpan<byte> payload)
    {
        if (payload.IndexOf("\uFF1C"u8) >= 0) return true;
        var rest = payload;
        while (true)
        {
            var i = rest.IndexOfAny(s_openerBytes);
            if (i < 0) return false;
            if (rest[i] == '<') return true;
            var tail = rest[(i + 1)..];
            if (tail.Length >= 5 && tail[0] == 'u' && (IsEscape(tail[1..5], "003c"u8) || IsEscape(tail[1..5], "ff1c"u8))) return true;
            // NOTE: "\\" is an escaped backslash; skip both so "\\u003c" (a literal backslash + text) is not misread.
            rest = tail.Length > 0 && tail[0] == '\\' ? tail[1..] : tail;
        }
    }

    private static bool IsEscape(ReadOnlySpan<byte> hex, ReadOnlySpan<byte> lower)
    {
        for (var k = 0; k < 4; k++)
        {
            if ((hex[k] | 0x20) != lower[k]) return false;
        }
        return true;
    }

    private static string Key(int index, int sub) => string.Concat(index.ToString(System.Globalization.CultureInfo.InvariantCulture), ":", sub.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static (int Index, int Sub) ParseKey(string key)
    {
        var colon = key.IndexOf(':');
        return (int.Parse(key.AsSpan(0, colon), System.Globalization.CultureInfo.InvariantCulture), int.Parse(key.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture));
    }
}
