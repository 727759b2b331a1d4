using System.Text;

namespace LlmServer.Services.Masking;

/// <summary>How many values of each type a request had masked; counts only, never values.</summary>
public sealed class MaskingSummary
{
    /// <summary>Suggested response header carrying <see cref="ToHeaderValue"/>.</summary>
    public const string HeaderName = "X-LlmServer-Masked";

    private readonly SortedDictionary<string, int> _counts = new(StringComparer.Ordinal);

    /// <summary>Counts per type, sorted by type.</summary>
    public IReadOnlyDictionary<string, int> Counts => _counts;

    /// <summary>Total values masked.</summary>
    public int Total => _counts.Values.Sum();

    internal void Add(string type, int count = 1)
    {
        _counts[type] = _counts.GetValueOrDefault(type) + count;
    }

    internal void AddRange(IReadOnlyDictionary<string, int> counts)
    {
        foreach (var (t, n) in counts)
        {
            Add(t, n);
        }
    }

    /// <summary>Header value like <c>AWS_EC2=2, EMAIL=1</c>; empty when nothing was masked.</summary>
    public string ToHeaderValue()
    {
        var sb = new StringBuilder();
        foreach (var (t, n) in _counts)
        {
            if (sb.Length > 0)
            {
                sb.Append(", ");
            }
            sb.Append(t).Append('=').Append(n);
        }
        return sb.ToString();
    }
}

/// <summary>The result of masking one text.</summary>
/// <param name="Text">The text with placeholders (or redaction tokens).</param>
/// <param name="Counts">Values replaced per type.</param>
public sealed record MaskResult(string Text, IReadOnlyDictionary<string, int> Counts);
