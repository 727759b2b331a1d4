using System.Buffers;
using System.Text;

namespace LlmServer.Services.Masking.Detection;

/// <summary>
/// Context words (주민, passport, 계좌 ...) matched case-insensitively: the ASCII ones in one vectorized search over
/// all of them, instead of one search per word.
/// </summary>
internal sealed class Keywords
{
    private readonly SearchValues<string>? _ascii;
    private readonly string[] _caseless;

    public Keywords(params string[] words)
    {
        var ascii = words.Where(w => Ascii.IsValid(w)).ToArray();
        _ascii = ascii.Length > 0 ? SearchValues.Create(ascii, StringComparison.OrdinalIgnoreCase) : null;
        // NOTE: an ignore-case SearchValues over non-ASCII words takes a slow path (about 100 MB/s); Hangul has no
        // case, so an ordinal search per word (vectorized) finds the same.
        _caseless = [.. words.Where(w => !Ascii.IsValid(w))];
        foreach (var w in _caseless)
        {
            if (!string.Equals(w.ToUpperInvariant(), w.ToLowerInvariant(), StringComparison.Ordinal))
            {
                throw new ArgumentException($"The context word '{w}' has case outside ASCII.", nameof(words));
            }
        }
    }

    /// <summary>Whether one of the words occurs anywhere in <paramref name="text"/>.</summary>
    public bool In(ReadOnlySpan<char> text)
    {
        foreach (var w in _caseless)
        {
            if (text.IndexOf(w, StringComparison.Ordinal) >= 0)
            {
                return true;
            }
        }
        return _ascii is not null && text.IndexOfAny(_ascii) >= 0;
    }

    /// <summary>Whether a word lies wholly within <paramref name="before"/> chars before <paramref name="start"/>
    /// or <paramref name="after"/> chars after <paramref name="end"/>.</summary>
    public bool Near(string text, int start, int end, int before, int after)
    {
        var from = Math.Max(0, start - before);
        var to = Math.Min(text.Length, end + after);
        return In(text.AsSpan(from, start - from)) || In(text.AsSpan(end, to - end));
    }
}
