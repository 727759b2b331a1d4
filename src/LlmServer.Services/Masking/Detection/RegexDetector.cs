using System.Text.RegularExpressions;

namespace LlmServer.Services.Masking.Detection;

/// <summary>Classifies a candidate; returns the type, or null to reject. May shrink <paramref name="length"/>.</summary>
internal delegate string? Classifier(string text, int start, ref int length);

/// <summary>
/// A detector built on a <see cref="RegexOptions.NonBacktracking"/> regex (linear in the input), with the
/// boundary checks done in code because that engine has no lookarounds. ASCII-only boundaries mean Hangul
/// right next to a value (<c>010-1234-5678입니다</c>) does not stop it from matching, unlike <c>\b</c>.
/// </summary>
internal sealed class RegexDetector : Detector
{
    private readonly Regex _regex;
    private readonly string? _group;
    private readonly Func<char, bool> _leftReject;
    private readonly Func<string, int, bool> _rightReject;
    private readonly Classifier _classify;
    private readonly int _priority;
    private readonly Keywords? _gate;
    private readonly Candidates? _candidates;
    private readonly Func<char, bool>? _extend;

    // NOTE: one regex call has a fixed cost of a few hundred characters' scanning, so windows closer than this
    // are searched as one range (the same result: the regex on the whole text is what windows reproduce).
    private const int MergeGap = 64;

    public RegexDetector(
        string pattern,
        int priority,
        Classifier classify,
        Func<char, bool> leftReject,
        Func<string, int, bool>? rightReject = null,
        Candidates? candidates = null,
        Keywords? gate = null,
        string? group = null,
        bool ignoreCase = false,
        Func<char, bool>? extend = null)
    {
        var options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;
        if (ignoreCase)
        {
            options |= RegexOptions.IgnoreCase;
        }
        if (group is null)
        {
            options |= RegexOptions.ExplicitCapture;
        }
        _regex = new Regex(pattern, options);
        _priority = priority;
        _classify = classify;
        _leftReject = leftReject;
        _rightReject = rightReject ?? ((t, i) => i < t.Length && leftReject(t[i]));
        // NOTE: a regex with groups runs on the whole text only: started inside a text (at a window), the .NET 10
        // NonBacktracking engine missed S3 buckets once it had run on other texts, which from the start it finds.
        if (group is not null && candidates is not null)
        {
            throw new ArgumentException("A detector with a group runs on the whole text.", nameof(candidates));
        }
        _candidates = candidates;
        _gate = gate;
        _group = group;
        _extend = extend;
    }

    public static Classifier Always(string type) => (string _, int _, ref int _) => type;

    public override void Find(ScanContext scan, List<Detection> output)
    {
        var text = scan.Text;
        if (_candidates is null)
        {
            if (_gate is not null && !_gate.In(text))
            {
                return;
            }
            if (_group is null)
            {
                FindWithoutGroups(text, 0, text.Length, output);
            }
            else
            {
                FindWithGroups(text, _group, output);
            }
            return;
        }
        var cursor = default(CandidateCursor);
        int from = -1, to = -1;
        while (_candidates.Next(scan, ref cursor, out var start, out var end))
        {
            // NOTE: the context words are looked for once there is a window, so clean text pays for neither.
            if (to < 0 && _gate is not null && !_gate.In(text))
            {
                return;
            }
            if (from >= 0 && start - to > MergeGap)
            {
                FindWithoutGroups(text, from, to, output);
                from = -1;
            }
            if (from < 0)
            {
                from = start;
            }
            to = end;
        }
        if (from >= 0)
        {
            FindWithoutGroups(text, from, to, output);
        }
    }

    private void FindWithGroups(string text, string group, List<Detection> output)
    {
        var pos = 0;
        while (pos < text.Length)
        {
            var m = _regex.Match(text, pos);
            if (!m.Success)
            {
                return;
            }
            var matchEnd = m.Index + m.Length;
            if (_extend is not null)
            {
                // NOTE: the regex matches a fixed-length head and the tail is extended here: unbounded repetitions
                // such as [A-Za-z0-9_-]{20,} make the regex engine slow on megabyte-long runs.
                while (matchEnd < text.Length && _extend(text[matchEnd]))
                {
                    matchEnd++;
                }
            }
            var leftOk = m.Index == 0 || !_leftReject(text[m.Index - 1]);
            var accepted = false;
            if (leftOk && !_rightReject(text, matchEnd))
            {
                var g = m.Groups[group];
                if (g.Success && g.Length > 0)
                {
                    var length = g.Length;
                    var type = _classify(text, g.Index, ref length);
                    if (type is not null && length > 0)
                    {
                        output.Add(new Detection(g.Index, length, type, _priority));
                        accepted = true;
                    }
                }
            }
            if (accepted)
            {
                pos = Math.Max(matchEnd, m.Index + 1);
                continue;
            }
            pos = m.Index + 1;
            // NOTE: every match starting right after a rejecting character fails the left check too, so skip the
            // whole run; this keeps long runs of digits or letters linear instead of one regex call per char.
            while (pos < text.Length && _leftReject(text[pos - 1]))
            {
                pos++;
            }
        }
    }

    /// <summary>
    /// The common path: every accepted match in [<paramref name="from"/>, <paramref name="to"/>) (boundaries look at
    /// the whole text); allocation-free enumeration, restarted only after a rejected or extended match.
    /// </summary>
    private void FindWithoutGroups(string text, int from, int to, List<Detection> output)
    {
        var pos = from;
        while (pos < to)
        {
            var restart = -1;
            foreach (var m in _regex.EnumerateMatches(text.AsSpan(0, to), pos))
            {
                var matchEnd = m.Index + m.Length;
                if (_extend is not null)
                {
                    while (matchEnd < text.Length && _extend(text[matchEnd]))
                    {
                        matchEnd++;
                    }
                }
                if ((m.Index == 0 || !_leftReject(text[m.Index - 1])) && !_rightReject(text, matchEnd))
                {
                    var length = matchEnd - m.Index;
                    var type = _classify(text, m.Index, ref length);
                    if (type is not null && length > 0)
                    {
                        output.Add(new Detection(m.Index, length, type, _priority));
                        if (matchEnd != m.Index + m.Length || m.Length == 0)
                        {
                            restart = Math.Max(matchEnd, m.Index + 1);
                            break;
                        }
                        continue;
                    }
                }
                restart = m.Index + 1;
                while (restart < to && _leftReject(text[restart - 1]))
                {
                    restart++;
                }
                break;
            }
            if (restart < 0)
            {
                return;
            }
            pos = restart;
        }
    }
}
