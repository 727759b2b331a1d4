using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Pricing;

namespace LlmServer.Services.Anthropic;

/// <summary>
/// Picks token usage out of Anthropic bytes passing through unchanged: the SSE stream (message_start, then the
/// cumulative message_delta usage) or, for a plain answer, the message body. Only lines that mention usage are
/// parsed, so the copy stays cheap.
/// </summary>
public sealed class AnthropicUsageScanner(bool stream)
{
    private const int MaxBody = 4 * 1024 * 1024;
    private readonly ArrayBufferWriter<byte> _pending = new(256);
    private long _input;
    private long _cacheRead;
    private long _cacheWrite5m;
    private long _cacheWrite1h;
    private long _output;
    private bool _seen;
    private bool _overflow;

    /// <summary>Usage seen so far, in the shared accounting shape (input includes cache reads and writes).</summary>
    public TokenUsage? Usage => _seen
        ? new TokenUsage(_input + _cacheRead + _cacheWrite5m + _cacheWrite1h, _cacheRead, _output, 0, _cacheWrite5m, _cacheWrite1h)
        : null;

    /// <summary>Feeds the next bytes exactly as they were forwarded.</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        if (!stream)
        {
            if (_overflow || _pending.WrittenCount + data.Length > MaxBody)
            {
                _overflow = true;
                return;
            }
            _pending.Write(data);
            return;
        }
        while (!data.IsEmpty)
        {
            var nl = data.IndexOf((byte)'\n');
            if (nl < 0)
            {
                if (_pending.WrittenCount + data.Length <= MaxBody) _pending.Write(data);
                return;
            }
            ReadOnlySpan<byte> line;
            if (_pending.WrittenCount > 0)
            {
                _pending.Write(data[..nl]);
                line = _pending.WrittenSpan;
            }
            else
            {
                line = data[..nl];
            }
            Line(line);
            _pending.ResetWrittenCount();
            data = data[(nl + 1)..];
        }
    }

    /// <summary>Call at the end: parses a plain body.</summary>
    public void Complete()
    {
        if (stream || _overflow || _pending.WrittenCount == 0) return;
        try
        {
            Apply(JsonNode.Parse(_pending.WrittenSpan)?["usage"]);
        }
        catch (JsonException)
        {
        }
    }

    private void Line(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("data:"u8) || line.IndexOf("\"usage\""u8) < 0) return;
        try
        {
            var node = JsonNode.Parse(line[5..]);
            Apply(J.Str(node?["type"]) == "message_start" ? node?["message"]?["usage"] : node?["usage"]);
        }
        catch (JsonException)
        {
        }
    }

    private void Apply(JsonNode? usage)
    {
        if (usage is not JsonObject u) return;
        _seen = true;
        if (J.Long(u["input_tokens"]) is { } i) _input = i;
        if (J.Long(u["cache_read_input_tokens"]) is { } r) _cacheRead = r;
        // NOTE: message_delta repeats the counts cumulatively when it carries them; a field it leaves out keeps message_start's value.
        if (u.ContainsKey("cache_creation_input_tokens") || u.ContainsKey("cache_creation")) (_cacheWrite5m, _cacheWrite1h) = UsageJson.CacheCreation(u);
        if (J.Long(u["output_tokens"]) is { } o) _output = o;
    }
}
