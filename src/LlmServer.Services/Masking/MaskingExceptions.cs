namespace LlmServer.Services.Masking;

/// <summary>
/// Masking could not be done (vault unreachable, a bug, ...). The request must be refused, never sent raw.
/// The message never holds an original value.
/// </summary>
public sealed class MaskingFailedException : Exception
{
    /// <summary>Wraps the cause; the message is safe to show to clients.</summary>
    public MaskingFailedException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>The policy is <see cref="MaskingPolicy.Block"/> and the request holds sensitive values.</summary>
public sealed class MaskingBlockedException : Exception
{
    /// <summary>Creates the exception from the counts found (types only reach the message).</summary>
    public MaskingBlockedException(IReadOnlyDictionary<string, int> counts)
        : base("The request contains sensitive data and the masking policy is 'block'. Types found: "
            + string.Join(", ", counts.Keys.Order(StringComparer.Ordinal)) + ".")
    {
        Counts = counts;
    }

    /// <summary>How many values of each type were found.</summary>
    public IReadOnlyDictionary<string, int> Counts { get; }

    /// <summary>The types found, sorted.</summary>
    public IReadOnlyList<string> Types => [.. Counts.Keys.Order(StringComparer.Ordinal)];
}
