using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmServer.Api.Filters;

/// <summary>
/// Turns the serializer's messages about a request body into plain words that name the field and the kind of
/// value expected; a client never sees a .NET type name (<c>System.Nullable`1[System.Decimal]</c>).
/// </summary>
internal static partial class JsonErrorText
{
    public static string Describe(string key, string text)
    {
        var field = key.StartsWith("$.", StringComparison.Ordinal) ? key[2..] : key is "$" or "" ? null : key;
        if (Unmapped().Match(text) is { Success: true } unknown)
        {
            return $"Unknown field '{Path(field, unknown.Groups[1].Value)}'; check its spelling against the documented fields.";
        }
        if (text.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return $"The key '{field ?? "?"}' appears more than once; send each key once.";
        }
        if (text.Contains("maximum configured depth", StringComparison.OrdinalIgnoreCase))
        {
            return string.Create(CultureInfo.InvariantCulture, $"The request body nests deeper than {Dto.JsonLimits.MaxDepth} levels (objects and arrays).");
        }
        if (text.Contains("UTF-8", StringComparison.Ordinal) || text.Contains("UTF-16", StringComparison.Ordinal))
        {
            return field is null ? "The request body is not valid UTF-8 text." : $"'{field}' is not valid UTF-8 text.";
        }
        if (Converted().Match(text) is { Success: true } converted)
        {
            return $"'{field ?? "the request body"}': expected {Kind(converted.Groups[1].Value)}.";
        }
        var at = Where().Match(text) is { Success: true } w
            ? string.Create(CultureInfo.InvariantCulture, $" (line {long.Parse(w.Groups[1].Value, CultureInfo.InvariantCulture) + 1}, byte {long.Parse(w.Groups[2].Value, CultureInfo.InvariantCulture) + 1})")
            : "";
        var plain = TypeName().Replace(Position().Replace(text, ""), "a value").Trim().TrimEnd('.') + at + ".";
        return field is null || plain.Contains(field, StringComparison.Ordinal) ? plain : $"{field}: {plain}";
    }

    private static string Path(string? parent, string name) => string.IsNullOrEmpty(parent) ? name : parent + "." + name;

    private static string Kind(string typeName)
    {
        var t = typeName.Replace("System.Nullable`1[", "", StringComparison.Ordinal).TrimEnd(']');
        return t switch
        {
            "System.String" => "a string of valid UTF-8 text",
            "System.Boolean" => "true or false",
            "System.Int32" or "System.Int64" or "System.Int16" or "System.UInt32" or "System.UInt64" => "a whole number",
            "System.Double" or "System.Decimal" or "System.Single" => "a number",
            "System.DateTime" or "System.DateTimeOffset" => "an ISO 8601 date",
            _ when t.Contains("List`1", StringComparison.Ordinal) || t.Contains("[]", StringComparison.Ordinal) || t.Contains("IReadOnlyList", StringComparison.Ordinal) => "an array",
            _ when t.Contains("Dictionary", StringComparison.Ordinal) => "an object",
            _ => "an object",
        };
    }

    [GeneratedRegex(@"JSON property '([^']*)' could not be mapped")]
    private static partial Regex Unmapped();

    [GeneratedRegex(@"could not be converted to ([^ ]+?)\.(?: Path| \||$)")]
    private static partial Regex Converted();

    [GeneratedRegex(@"\s*(Path:.*|\| LineNumber:.*)$")]
    private static partial Regex Position();

    [GeneratedRegex(@"LineNumber: (\d+) \| BytePositionInLine: (\d+)")]
    private static partial Regex Where();

    [GeneratedRegex(@"'?System\.[\w.`\[\],]+'?")]
    private static partial Regex TypeName();
}
