using System.Buffers;

namespace LlmServer.Services.Streaming;

/// <summary>
/// Reads a server-sent event stream into one pooled buffer and hands out complete events as slices of it
/// (<see cref="SseFraming"/>): no copy and no allocation per event. A slice is valid until the next
/// <see cref="FillAsync"/>.
/// </summary>
public sealed class SseEventReader(int initialSize = 16 * 1024) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialSize);
    private int _start;
    private int _filled;

    /// <summary>What arrived after the last complete event (an event cut off when the stream ended).</summary>
    public ReadOnlyMemory<byte> Pending => _buffer.AsMemory(_start, _filled - _start);

    /// <summary>Reads once from <paramref name="source"/>; 0 when the stream has ended.</summary>
    public async ValueTask<int> FillAsync(Stream source, CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _filled - _start).CopyTo(_buffer);
            _filled -= _start;
            _start = 0;
        }
        if (_filled == _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _filled).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        var n = await source.ReadAsync(_buffer.AsMemory(_filled), cancellationToken).ConfigureAwait(false);
        _filled += n;
        return n;
    }

    /// <summary>The next complete event (with its blank line), if one has arrived.</summary>
    public bool TryRead(out ReadOnlyMemory<byte> ev)
    {
        var end = SseFraming.EventEnd(_buffer.AsSpan(_start, _filled - _start));
        if (end == 0)
        {
            ev = default;
            return false;
        }
        ev = _buffer.AsMemory(_start, end);
        _start += end;
        return true;
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        var b = _buffer;
        _buffer = [];
        _start = _filled = 0;
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
