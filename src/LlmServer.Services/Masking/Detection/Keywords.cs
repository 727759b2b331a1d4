using System.Buffers;

namespace LlmServer.Services.Masking.Detection;

/// <summary>
/// Context words (주민, passport, 계좌 ...) matched case-insensitively in one vectorized search over all of them,
/// instead of one search per word.
/// </summary>
internal sealed class Keywords
{
    private readonly SearchValues<string> _words;

    public Keywords(params string[] words)
    {
        Words = words;
        _words = SearchValues.Create(words, StringComparison.OrdinalIgnoreCase);
    }

    public IReadOnlyList<string> Words { get; }

    /// <summary>Whether one of the words occurs anywhere in <paramref name="text"/>.</summary>
    public bool In(ReadOnlySpan<char> text) => text.IndexOfAny(_words) >= 0;

    /// <summary>Whether a word lies wholly within <paramref name="before"/> chars before <paramref name="start"/>
    /// or <paramref name="after"/> chars after <paramref name="end"/>.</summary>
    public bool Near(string text, int start, int end, int before, int after)
    {
        var from = Math.Max(0, start - before);
        var to = Math.Min(text.Length, end + after);
        return In(text.AsSpan(from, start - from)) || In(text.AsSpan(end, to - end));
    }
}
