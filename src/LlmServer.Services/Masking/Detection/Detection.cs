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
    public abstract void Find(ScanContext scan, List<Detection> output);
}

/// <summary>Character tests used for boundaries (ASCII only: Hangul next to a value is a boundary).</summary>
internal static class Chars
{
    public static bool IsAsciiAlnum(char c) => char.IsAsciiLetterOrDigit(c);

    public static bool IsWordish(char c) => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-';

    public static bool IsDigit(char c) => char.IsAsciiDigit(c);
}
