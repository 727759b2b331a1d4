namespace LlmServer.Services.Masking.Detection;

/// <summary>A sensitive value found in a text: where it is and what type it is.</summary>
/// <param name="Start">Index of the first character.</param>
/// <param name="Length">Length in characters.</param>
/// <param name="Type">Placeholder type (see <see cref="MaskingTypes"/>).</param>
/// <param name="Priority">Higher wins when two detections overlap.</param>
public readonly record struct Detection(int Start, int Length, string Type, int Priority)
{
    /// <summary>Index after the last character.</summary>
    public int End => Start + Length;
}

/// <summary>Finds one kind of sensitive value. Implementations must run in time linear in the input.</summary>
internal abstract class Detector
{
    public abstract void Find(string text, List<Detection> output);
}

/// <summary>Character tests used for boundaries (ASCII only: Hangul next to a value is a boundary).</summary>
internal static class Chars
{
    public static bool IsAsciiAlnum(char c) => char.IsAsciiLetterOrDigit(c);

    public static bool IsWordish(char c) => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-';

    public static bool IsDigit(char c) => char.IsAsciiDigit(c);

    /// <summary>Whether one of <paramref name="words"/> occurs within <paramref name="before"/> chars before
    /// <paramref name="start"/> or <paramref name="after"/> chars after <paramref name="end"/> (case-insensitive).</summary>
    public static bool HasContext(string text, int start, int end, string[] words, int before, int after)
    {
        var from = Math.Max(0, start - before);
        var windowBefore = text.AsSpan(from, start - from);
        var to = Math.Min(text.Length, end + after);
        var windowAfter = text.AsSpan(end, to - end);
        foreach (var w in words)
        {
            if (windowBefore.Contains(w, StringComparison.OrdinalIgnoreCase)
                || windowAfter.Contains(w, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }
}
