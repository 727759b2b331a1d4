namespace LlmServer.Services.Streaming;

/// <summary>
/// Server-sent event framing over raw bytes, as the HTML standard defines it: lines end in LF, CRLF or CR, and an
/// event ends at a blank line; <c>data:</c> may or may not be followed by a space. Span-based, so a relay can
/// inspect events in its pooled buffer without copying them.
/// </summary>
public static class SseFraming
{
    /// <summary>Length of the first complete event (its blank line included), or 0 when none is complete yet.</summary>
    public static int EventEnd(ReadOnlySpan<byte> span)
    {
        var offset = 0;
        while (true)
        {
            var i = span[offset..].IndexOfAny((byte)'\n', (byte)'\r');
            if (i < 0) return 0;
            var at = offset + i;
            int next;
            if (span[at] == '\r')
            {
                // NOTE: a CR at the end of what arrived may be the first half of a CRLF; wait for the next byte.
                if (at + 1 >= span.Length) return 0;
                next = span[at + 1] == '\n' ? at + 2 : at + 1;
            }
            else
            {
                next = at + 1;
            }
            if (next >= span.Length) return 0;
            if (span[next] == '\n') return next + 1;
            if (span[next] == '\r')
            {
                if (next + 1 >= span.Length) return 0;
                return span[next + 1] == '\n' ? next + 2 : next + 1;
            }
            offset = next;
        }
    }

    /// <summary>Where the first <c>data:</c> line of an event starts, and its payload (that line, without its line end); -1 when the event has none.</summary>
    public static (int DataOffset, int PayloadStart, int PayloadLength) LocateData(ReadOnlySpan<byte> ev)
    {
        var d = ev.IndexOf("data:"u8);
        if (d < 0) return (-1, -1, 0);
        var p = d + 5;
        if (p < ev.Length && ev[p] == ' ') p++;
        var end = ev[p..].IndexOfAny((byte)'\n', (byte)'\r');
        return (d, p, end < 0 ? ev.Length - p : end);
    }
}
