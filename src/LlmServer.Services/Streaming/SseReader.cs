using System.Buffers;
using System.Text;

namespace LlmServer.Services.Streaming;

/// <summary>
/// Reads server-sent events from an upstream stream as they arrive, with their fields: the framing (any line
/// ending, one pooled buffer) is <see cref="SseEventReader"/>'s; on top, <c>data:</c> with or without its space,
/// several data lines joined by \n, comment lines (<c>:</c>) and unknown fields ignored. The current event's
/// <see cref="Event"/>, <see cref="Data"/> and <see cref="Raw"/> are slices of the buffer, valid until the next read.
/// </summary>
public sealed class SseReader : IDisposable
{
    private readonly Stream _stream;
    private readonly SseEventReader _events;
    private byte[]? _joined;
    private bool _ended;
    private bool _tailTaken;

    /// <summary>Reads from <paramref name="stream"/> (left open).</summary>
    public SseReader(Stream stream, int bufferSize = 16 * 1024)
    {
        _stream = stream;
        _events = new SseEventReader(bufferSize);
    }

    /// <summary>The current event's name (empty when it had no <c>event:</c> line).</summary>
    public ReadOnlyMemory<byte> Event { get; private set; }

    /// <summary>The current event's data lines joined by \n (empty when it had none).</summary>
    public ReadOnlyMemory<byte> Data { get; private set; }

    /// <summary>The current event's bytes as they arrived, its blank line included (for relaying it unchanged).</summary>
    public ReadOnlyMemory<byte> Raw { get; private set; }

    /// <summary>The current event's name as text, or null when it had none (allocates; for logs and tests).</summary>
    public string? EventName => Event.IsEmpty ? null : Encoding.UTF8.GetString(Event.Span);

    /// <summary>The current event's data as text (allocates; for tests).</summary>
    public string DataText => Encoding.UTF8.GetString(Data.Span);

    /// <summary>True when the current event's name is <paramref name="name"/>.</summary>
    public bool IsEvent(ReadOnlySpan<byte> name) => Event.Span.SequenceEqual(name);

    /// <summary>Moves to the next event with a name or data; false at the end of the stream.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_events.TryRead(out var ev))
            {
                if (Parse(ev)) return true;
                continue;
            }
            if (_ended)
            {
                // NOTE: an event the stream ended in without its blank line ("data: [DONE]" and EOF) still counts.
                if (_tailTaken || _events.Pending.IsEmpty) return false;
                _tailTaken = true;
                return Parse(_events.Pending);
            }
            if (await _events.FillAsync(_stream, cancellationToken).ConfigureAwait(false) == 0) _ended = true;
        }
    }

    private bool Parse(ReadOnlyMemory<byte> ev)
    {
        Raw = ev;
        Event = ReadOnlyMemory<byte>.Empty;
        Data = ReadOnlyMemory<byte>.Empty;
        var dataLines = 0;
        var joined = 0;
        var span = ev.Span;
        var pos = 0;
        while (pos < span.Length)
        {
            var i = span[pos..].IndexOfAny((byte)'\n', (byte)'\r');
            var lineEnd = i < 0 ? span.Length : pos + i;
            var next = lineEnd + 1;
            if (i >= 0 && span[lineEnd] == '\r' && next < span.Length && span[next] == '\n') next++;
            var line = span[pos..lineEnd];
            var lineStart = pos;
            pos = i < 0 ? span.Length : next;
            if (line.IsEmpty || line[0] == ':') continue;
            var colon = line.IndexOf((byte)':');
            var field = colon < 0 ? line : line[..colon];
            var valueStart = colon < 0 ? line.Length : colon + 1;
            if (valueStart < line.Length && line[valueStart] == ' ') valueStart++;
            var value = ev.Slice(lineStart + valueStart, line.Length - valueStart);
            if (field.SequenceEqual("event"u8))
            {
                Event = value;
                continue;
            }
            if (!field.SequenceEqual("data"u8)) continue;
            if (++dataLines == 1)
            {
                Data = value;
                continue;
            }
            // NOTE: several data lines are rare (upstreams send one JSON object per line); only then is a copy made.
            if (dataLines == 2)
            {
                _joined = Rent(_joined, ev.Length);
                Data.Span.CopyTo(_joined);
                joined = Data.Length;
            }
            _joined![joined++] = (byte)'\n';
            value.Span.CopyTo(_joined.AsSpan(joined));
            joined += value.Length;
            Data = _joined.AsMemory(0, joined);
        }
        return dataLines > 0 || !Event.IsEmpty;
    }

    private static byte[] Rent(byte[]? buffer, int length)
    {
        if (buffer is not null && buffer.Length >= length) return buffer;
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        return ArrayPool<byte>.Shared.Rent(Math.Max(length, 1024));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _events.Dispose();
        if (_joined is not null) ArrayPool<byte>.Shared.Return(_joined);
        _joined = null;
    }
}
