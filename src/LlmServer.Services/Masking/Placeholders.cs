namespace LlmServer.Services.Masking;

/// <summary>Placeholder text and the lenient grammar used when restoring.</summary>
public static class Placeholders
{
    /// <summary>Longest id accepted when restoring (type + "_" + number).</summary>
    public const int MaxIdLength = 64;

    /// <summary><c>&lt;&lt;ID&gt;&gt;</c>.</summary>
    public static string Format(string id) => string.Concat("<<", id, ">>");

    /// <summary>The irreversible token used under <see cref="MaskingPolicy.Redact"/>.</summary>
    public static string Redaction(string type) => string.Concat("[REDACTED_", type, "]");

    internal static bool IsOpen(char c) => c is '<' or '\uFF1C';

    internal static bool IsClose(char c) => c is '>' or '\uFF1E';

    internal static bool IsIdChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    internal enum Outcome
    {
        NotPlaceholder,
        Partial,
        Complete,
    }

    /// <summary>
    /// Parses a placeholder starting at <paramref name="start"/> (which holds an opening bracket). Case and
    /// full-width brackets (＜＜ ＞＞) are accepted; the id must be TYPE_N for a known type.
    /// Partial means the text ended while it could still become one.
    /// </summary>
    internal static Outcome Parse(ReadOnlySpan<char> text, int start, IReadOnlySet<string> types, out string id, out int length)
    {
        id = "";
        length = 0;
        var i = start;
        for (var k = 0; k < 2; k++, i++)
        {
            if (i == text.Length)
            {
                return Outcome.Partial;
            }
            if (!IsOpen(text[i]))
            {
                return Outcome.NotPlaceholder;
            }
        }
        var idStart = i;
        while (i < text.Length && IsIdChar(text[i]))
        {
            i++;
            if (i - idStart > MaxIdLength)
            {
                return Outcome.NotPlaceholder;
            }
        }
        Span<char> upper = stackalloc char[i - idStart];
        text[idStart..i].ToUpperInvariant(upper);
        if (i == text.Length)
        {
            return CouldBecomeId(upper, types) ? Outcome.Partial : Outcome.NotPlaceholder;
        }
        if (!IsCompleteId(upper, types))
        {
            return Outcome.NotPlaceholder;
        }
        for (var k = 0; k < 2; k++, i++)
        {
            if (i == text.Length)
            {
                return Outcome.Partial;
            }
            if (!IsClose(text[i]))
            {
                return Outcome.NotPlaceholder;
            }
        }
        id = new string(upper);
        length = i - start;
        return Outcome.Complete;
    }

    private static bool CouldBecomeId(ReadOnlySpan<char> upper, IReadOnlySet<string> types)
    {
        foreach (var t in types)
        {
            if (t.AsSpan().StartsWith(upper) || IsTypeNumber(upper, t, allowEmptyNumber: true))
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsCompleteId(ReadOnlySpan<char> upper, IReadOnlySet<string> types)
    {
        foreach (var t in types)
        {
            if (IsTypeNumber(upper, t, allowEmptyNumber: false))
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsTypeNumber(ReadOnlySpan<char> upper, string type, bool allowEmptyNumber)
    {
        if (upper.Length <= type.Length || !upper.StartsWith(type) || upper[type.Length] != '_')
        {
            return false;
        }
        var number = upper[(type.Length + 1)..];
        if (number.IsEmpty)
        {
            return allowEmptyNumber;
        }
        return !number.ContainsAnyExceptInRange('0', '9') && number[0] != '0';
    }
}
