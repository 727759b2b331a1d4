using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>
/// A strict parser of the Prometheus text exposition format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): names, label escaping, float values,
/// one TYPE per family before its samples, contiguous families, no duplicate series, histogram consistency.
/// Throws <see cref="FormatException"/> on anything the format does not allow.
/// </summary>
internal static partial class PrometheusTextParser
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed record Family(string Name, string Type, string? Help, List<Sample> Samples);

    public static Dictionary<string, Family> Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the exposition must end with a line feed");
        }
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        var series = new HashSet<string>(StringComparer.Ordinal);
        Family? current = null;
        var lineNo = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNo++;
            if (line.Length == 0)
            {
                continue;
            }
            if (line.Contains('\r'))
            {
                throw new FormatException($"line {lineNo}: carriage return");
            }
            if (line.StartsWith('#'))
            {
                var m = MetaLine().Match(line);
                if (!m.Success)
                {
                    continue; // a plain comment
                }
                var name = m.Groups["name"].Value;
                var kind = m.Groups["kind"].Value;
                var rest = m.Groups["rest"].Value;
                if (finished.Contains(name) && current?.Name != name)
                {
                    throw new FormatException($"line {lineNo}: family {name} appears twice");
                }
                if (!families.TryGetValue(name, out var family))
                {
                    family = new Family(name, "untyped", null, []);
                    families[name] = family;
                }
                if (current is not null && current.Name != name)
                {
                    finished.Add(current.Name);
                }
                current = family;
                if (kind == "HELP")
                {
                    if (family.Help is not null)
                    {
                        throw new FormatException($"line {lineNo}: second HELP for {name}");
                    }
                    families[name] = current = family with { Help = Unescape(rest, allowQuote: false, lineNo) };
                }
                else
                {
                    if (family.Type != "untyped" || family.Samples.Count > 0)
                    {
                        throw new FormatException($"line {lineNo}: TYPE for {name} must come once, before its samples");
                    }
                    if (rest is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                    {
                        throw new FormatException($"line {lineNo}: unknown type '{rest}'");
                    }
                    families[name] = current = family with { Type = rest };
                }
                continue;
            }
            var sample = ParseSample(line, lineNo);
            var owner = OwnerFamily(sample.Name, families);
            if (owner is null || current is null || owner.Name != current.Name)
            {
                throw new FormatException($"line {lineNo}: sample {sample.Name} is not in the family declared just before it");
            }
            var key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)) + "}";
            if (!series.Add(key))
            {
                throw new FormatException($"line {lineNo}: duplicate series {key}");
            }
            owner.Samples.Add(sample);
        }
        foreach (var family in families.Values.Where(f => f.Type == "histogram"))
        {
            CheckHistogram(family);
        }
        return families;
    }

    private static Family? OwnerFamily(string sampleName, Dictionary<string, Family> families)
    {
        if (families.TryGetValue(sampleName, out var f) && f.Type != "histogram")
        {
            return f;
        }
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal)
                && families.TryGetValue(sampleName[..^suffix.Length], out var h) && h.Type is "histogram" or "summary")
            {
                return h;
            }
        }
        return null;
    }

    private static void CheckHistogram(Family family)
    {
        foreach (var group in family.Samples.GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key).Select(l => l.Key + "=" + l.Value))))
        {
            var buckets = group.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
            if (buckets.Any(b => !b.Labels.ContainsKey("le")))
            {
                throw new FormatException($"{family.Name}: bucket without le");
            }
            var ordered = buckets.Select(b => (Le: ParseValue(b.Labels["le"]), b.Value)).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                if (ordered[i].Le <= ordered[i - 1].Le || ordered[i].Value < ordered[i - 1].Value)
                {
                    throw new FormatException($"{family.Name}: buckets must have increasing le and non-decreasing counts");
                }
            }
            if (ordered.Count == 0 || !double.IsPositiveInfinity(ordered[^1].Le))
            {
                throw new FormatException($"{family.Name}: the last bucket must be le=\"+Inf\"");
            }
            var count = group.SingleOrDefault(s => s.Name == family.Name + "_count") ?? throw new FormatException($"{family.Name}: no _count");
            _ = group.SingleOrDefault(s => s.Name == family.Name + "_sum") ?? throw new FormatException($"{family.Name}: no _sum");
            if (count.Value != ordered[^1].Value)
            {
                throw new FormatException($"{family.Name}: +Inf bucket differs from _count");
            }
        }
    }

    private static Sample ParseSample(string line, int lineNo)
    {
        var i = 0;
        var name = ReadName(line, ref i, metric: true, lineNo);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}')
                {
                    i++;
                    break;
                }
                var label = ReadName(line, ref i, metric: false, lineNo);
                if (i >= line.Length || line[i] != '=' || i + 1 >= line.Length || line[i + 1] != '"')
                {
                    throw new FormatException($"line {lineNo}: expected =\" after label {label}");
                }
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length)
                    {
                        throw new FormatException($"line {lineNo}: unterminated label value");
                    }
                    var c = line[i++];
                    if (c == '"')
                    {
                        break;
                    }
                    if (c == '\\')
                    {
                        if (i >= line.Length)
                        {
                            throw new FormatException($"line {lineNo}: dangling escape");
                        }
                        var e = line[i++];
                        value.Append(e switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"line {lineNo}: invalid escape \\{e}"),
                        });
                        continue;
                    }
                    value.Append(c);
                }
                if (!labels.TryAdd(label, value.ToString()))
                {
                    throw new FormatException($"line {lineNo}: label {label} repeated");
                }
                if (i < line.Length && line[i] == ',')
                {
                    i++;
                }
                else if (i >= line.Length || line[i] != '}')
                {
                    throw new FormatException($"line {lineNo}: expected , or }} after a label");
                }
            }
        }
        if (i >= line.Length || line[i] != ' ')
        {
            throw new FormatException($"line {lineNo}: expected a space before the value");
        }
        var parts = line[(i + 1)..].Split(' ');
        if (parts.Length is < 1 or > 2)
        {
            throw new FormatException($"line {lineNo}: expected a value and an optional timestamp");
        }
        if (parts.Length == 2 && !long.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            throw new FormatException($"line {lineNo}: bad timestamp");
        }
        return new Sample(name, labels, ParseValue(parts[0], lineNo));
    }

    private static string ReadName(string line, ref int i, bool metric, int lineNo)
    {
        var start = i;
        while (i < line.Length && (char.IsAsciiLetter(line[i]) || line[i] == '_' || (metric && line[i] == ':') || (i > start && char.IsAsciiDigit(line[i]))))
        {
            i++;
        }
        if (i == start)
        {
            throw new FormatException($"line {lineNo}: expected a {(metric ? "metric" : "label")} name");
        }
        return line[start..i];
    }

    private static double ParseValue(string s, int lineNo = 0) => s switch
    {
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) => v,
        _ => throw new FormatException($"line {lineNo}: bad value '{s}'"),
    };

    private static string Unescape(string s, bool allowQuote, int lineNo)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\')
            {
                sb.Append(s[i]);
                continue;
            }
            if (++i >= s.Length)
            {
                throw new FormatException($"line {lineNo}: dangling escape in HELP");
            }
            sb.Append(s[i] switch
            {
                '\\' => '\\',
                'n' => '\n',
                '"' when allowQuote => '"',
                _ => throw new FormatException($"line {lineNo}: invalid escape in HELP"),
            });
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"^# (?<kind>HELP|TYPE) (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?: (?<rest>.*))?$")]
    private static partial Regex MetaLine();
}
