using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Masking.Detection;

/// <summary>
/// Runs every enabled detector over a text and returns non-overlapping detections in text order.
/// Thread-safe and allocation-light; every detector is linear in the input, so no text can stall it.
/// </summary>
public sealed class SensitiveDataScanner
{
    private readonly Detector[] _detectors;
    private readonly HashSet<string> _allow;
    private readonly HashSet<string> _types;

    [ThreadStatic]
    private static List<Detection>? t_found;

    /// <summary>Builds the scanner from options (built-ins minus disabled types, plus custom detectors).</summary>
    public SensitiveDataScanner(IOptions<MaskingOptions> options)
        : this(options.Value)
    {
    }

    /// <summary>Builds the scanner from options.</summary>
    public SensitiveDataScanner(MaskingOptions options)
    {
        var disabled = new HashSet<string>(options.DisabledTypes, StringComparer.OrdinalIgnoreCase);
        var detectors = new List<Detector>();
        foreach (var d in BuiltInDetectors.Create())
        {
            detectors.Add(disabled.Count == 0 ? d : new FilteredDetector(d, disabled));
        }
        foreach (var c in options.CustomDetectors)
        {
            var hasGroup = new Regex(c.Pattern, RegexOptions.NonBacktracking).GetGroupNames().Contains("v");
            Func<char, bool> left = c.AsciiBoundary ? Chars.IsAsciiAlnum : _ => false;
            detectors.Add(new RegexDetector(c.Pattern, 95, RegexDetector.Always(c.Type), left,
                group: hasGroup ? "v" : null, ignoreCase: c.IgnoreCase));
        }
        _detectors = [.. detectors];
        _allow = new HashSet<string>(options.AllowList, StringComparer.OrdinalIgnoreCase);
        _types = new HashSet<string>(MaskingTypes.All.Where(t => !disabled.Contains(t)), StringComparer.Ordinal);
        foreach (var c in options.CustomDetectors)
        {
            _types.Add(c.Type);
        }
    }

    /// <summary>Every type this scanner can produce.</summary>
    public IReadOnlySet<string> Types => _types;

    /// <summary>Finds sensitive values; the result is sorted by start and has no overlaps.</summary>
    public List<Detection> Scan(string text)
    {
        var found = new List<Detection>();
        if (string.IsNullOrEmpty(text))
        {
            return found;
        }
        Collect(text, found);
        if (found.Count <= 1)
        {
            return found;
        }
        // Overlaps are rare, so resolve them per cluster of transitively overlapping detections: in a cluster the
        // highest priority wins, then the longest; a detection is kept when it overlaps nothing kept so far.
        found.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : b.Length.CompareTo(a.Length));
        var kept = new List<Detection>(found.Count);
        var i = 0;
        while (i < found.Count)
        {
            var end = found[i].End;
            var j = i + 1;
            while (j < found.Count && found[j].Start < end)
            {
                end = Math.Max(end, found[j].End);
                j++;
            }
            if (j == i + 1)
            {
                kept.Add(found[i]);
            }
            else
            {
                ResolveCluster(found.GetRange(i, j - i), kept);
            }
            i = j;
        }
        return kept;
    }

    /// <summary>Whether <see cref="Scan"/> would find anything; allocates nothing when it would not.</summary>
    internal bool FindsAny(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var found = t_found ??= [];
        try
        {
            Collect(text, found);
            return found.Count > 0;
        }
        finally
        {
            found.Clear();
            if (found.Capacity > 1024)
            {
                t_found = null;
            }
        }
    }

    /// <summary>Every detector's findings, overlapping and in no order, minus the allow list.</summary>
    private void Collect(string text, List<Detection> found)
    {
        var scan = ScanContext.For(text);
        try
        {
            foreach (var d in _detectors)
            {
                d.Find(scan, found);
            }
        }
        finally
        {
            scan.Release();
        }
        if (_allow.Count > 0)
        {
            found.RemoveAll(d => _allow.Contains(text.Substring(d.Start, d.Length)));
        }
    }

    private static void ResolveCluster(List<Detection> cluster, List<Detection> kept)
    {
        cluster.Sort(static (a, b) => a.Priority != b.Priority ? b.Priority.CompareTo(a.Priority)
            : a.Length != b.Length ? b.Length.CompareTo(a.Length) : a.Start.CompareTo(b.Start));
        var chosen = new List<Detection>(cluster.Count);
        foreach (var d in cluster)
        {
            var k = BinarySearchByStart(chosen, d.Start);
            var overlapsPrev = k > 0 && chosen[k - 1].End > d.Start;
            var overlapsNext = k < chosen.Count && chosen[k].Start < d.End;
            if (!overlapsPrev && !overlapsNext)
            {
                chosen.Insert(k, d);
            }
        }
        kept.AddRange(chosen);
    }

    private static int BinarySearchByStart(List<Detection> list, int start)
    {
        int lo = 0, hi = list.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (list[mid].Start < start)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    private sealed class FilteredDetector(Detector inner, HashSet<string> disabled) : Detector
    {
        public override void Find(ScanContext scan, List<Detection> output)
        {
            var before = output.Count;
            inner.Find(scan, output);
            for (var i = output.Count - 1; i >= before; i--)
            {
                if (disabled.Contains(output[i].Type))
                {
                    output.RemoveAt(i);
                }
            }
        }
    }
}
