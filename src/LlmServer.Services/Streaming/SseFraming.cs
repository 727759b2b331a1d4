namespace LlmServer.Services.Streaming;

/// <summary>
/// Where an event's payload is inside its raw bytes (as <see cref="SseReader.Raw"/> gives them), for rewriting an
/// event in place: <c>data:</c> with or without its space, lines ending in LF, CRLF or CR.
/// </summary>
public static class SseFraming
{
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
