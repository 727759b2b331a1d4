using System.Buffers;
using System.Text;

namespace LlmServer.Services.Streaming;

/// <summary>
/// Reads server-sent events from an upstream stream as they arrive, over one pooled buffer: frames end at a blank
/// line whatever the line ending (\n, \r\n or \r, as the SSE specification allows), <c>data:</c> with or without
/// its space, several data lines joined by \n, comment lines (<c>:</c>) and unknown fields ignored. The current
/// frame's <see cref="Event"/> and <see cref="Data"/> point into the buffer and stay valid until the next read.
/// </summary>
public sealed class SseReader : IDisposable
{
    /// <summary>Largest frame accepted; a longer one is a broken stream, not a reason to grow without bound.</summary>
    public const int MaxFrameBytes = 16 * 1024 * 1024;

    private readonly Stream _stream;
    private byte[] _buffer;
    private byte[]? _joined;
    private int _start;
    private int _end;
    private bool _eof;

    /// <summary>Reads from <paramref name="stream"/> (left open).</summary>
    /// <remarks>
    /// The buffer starts at 4 KB, several times a typical event, and doubles for a frame that does not fit: a
    /// server holding thousands of slow streams open keeps one such buffer per stream.
    /// </remarks>
    public SseReader(Stream stream, int bufferSize = 4 * 1024)
    {
        _stream = stream;
        _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
    }

    /// <summary>The current frame's event name (empty when it had no <c>event:</c> line).</summary>
    public ReadOnlyMemory<byte> Event { get; private set; }

    /// <summary>The current frame's data lines joined by \n (empty when it had none).</summary>
    public ReadOnlyMemory<byte> Data { get; private set; }

    /// <summary>The current frame's bytes as they arrived, its terminating blank line included (for relaying it unchanged).</summary>
    public ReadOnlyMemory<byte> Raw { get; private set; }

    /// <summary>The current frame's event name as text, or null when it had none (allocates; for logs and tests).</summary>
    public string? EventName => Event.IsEmpty ? null : Encoding.UTF8.GetString(Event.Span);

    /// <summary>The current frame's data as text (allocates; for tests).</summary>
    public string DataText => Encoding.UTF8.GetString(Data.Span);

    /// <summary>True when the current frame's event name is <paramref name="name"/>.</summary>
    public bool IsEvent(ReadOnlySpan<byte> name) => Event.Span.SequenceEqual(name);

    /// <summary>Moves to the next frame with an event name or data; false at the end of the stream.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTakeFrame()) return true;
            if (_eof) return false;
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes one frame out of the buffered bytes when a whole one is there (or the stream ended).</summary>
    private bool TryTakeFrame()
    {
        while (_start < _end)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            var length = FrameLength(span, _eof, out var consumed);
            if (consumed == 0) return false;
            var frameStart = _start;
            _start += consumed;
            if (!Parse(frameStart, length)) continue;
            Raw = _buffer.AsMemory(frameStart, consumed);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The length of the first frame's lines (without the blank line) and how many bytes it takes with its
    /// terminator; consumed 0 when the frame is not complete yet. At the end of the stream the rest is a frame.
    /// </summary>
    internal static int FrameLength(ReadOnlySpan<byte> span, bool eof, out int consumed)
    {
        var pos = 0;
        while (true)
        {
            var i = span[pos..].IndexOfAny((byte)'\n', (byte)'\r');
            if (i < 0) break;
            var lineEnd = pos + i;
            var next = lineEnd + 1;
            if (span[lineEnd] == '\r')
            {
                // NOTE: a \r at the end of what has arrived may be the first half of \r\n.
                if (next == span.Length && !eof) break;
                if (next < span.Length && span[next] == '\n') next++;
            }
            if (lineEnd == pos)
            {
                // NOTE: the blank line ends the frame; its lines are everything before it (none for a stray blank line).
                consumed = next;
                return pos;
            }
            pos = next;
            if (pos >= span.Length) break;
        }
        if (eof)
        {
            consumed = span.Length;
            return span.Length;
        }
        consumed = 0;
        return 0;
    }

    private bool Parse(int frameStart, int length)
    {
        var frame = _buffer.AsMemory(frameStart, length);
        Event = ReadOnlyMemory<byte>.Empty;
        Data = ReadOnlyMemory<byte>.Empty;
        var dataLines = 0;
        var joined = 0;
        var hasData = false;
        var pos = 0;
        var span = frame.Span;
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
            var value = frame.Slice(lineStart + valueStart, line.Length - valueStart);
            if (field.SequenceEqual("data"u8))
            {
                hasData = true;
                dataLines++;
                if (dataLines == 1)
                {
                    Data = value;
                    continue;
                }
                // NOTE: several data lines are rare (one JSON object per line is what upstreams send); only then is a copy made.
                if (dataLines == 2)
                {
                    _joined = EnsureCapacity(_joined, length);
                    Data.Span.CopyTo(_joined);
                    joined = Data.Length;
                }
                _joined![joined++] = (byte)'\n';
                value.Span.CopyTo(_joined.AsSpan(joined));
                joined += value.Length;
                Data = _joined.AsMemory(0, joined);
            }
            else if (field.SequenceEqual("event"u8))
            {
                Event = value;
            }
        }
        return hasData || !Event.IsEmpty;
    }

    private static byte[] EnsureCapacity(byte[]? buffer, int length)
    {
        if (buffer is not null && buffer.Length >= length) return buffer;
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        return ArrayPool<byte>.Shared.Rent(Math.Max(length, 1024));
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            // NOTE: the current frame's memory is handed out before the next read; moving bytes is safe only now.
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxFrameBytes) throw new InvalidDataException($"A server-sent event exceeds {MaxFrameBytes} bytes.");
            var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, MaxFrameBytes));
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        var n = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (n == 0) _eof = true;
        else _end += n;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        if (_joined is not null) ArrayPool<byte>.Shared.Return(_joined);
        _joined = null;
        _buffer = [];
    }
}
