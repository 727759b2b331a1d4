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
    private readonly Func<string, bool>? _prefilter;
    private readonly Func<char, bool>? _extend;

    public RegexDetector(
        string pattern,
        int priority,
        Classifier classify,
        Func<char, bool> leftReject,
        Func<string, int, bool>? rightReject = null,
        Func<string, bool>? prefilter = null,
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
        _prefilter = prefilter;
        _group = group;
        _extend = extend;
    }

    public static Classifier Always(string type) => (string _, int _, ref int _) => type;

    public override void Find(string text, List<Detection> output)
    {
        if (_prefilter is not null && !_prefilter(text))
        {
            return;
        }
        if (_group is null)
        {
            FindWithoutGroups(text, output);
            return;
        }
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
                var g = _group is null ? m : m.Groups[_group];
                if (g.Success && g.Length > 0)
                {
                    var length = _group is null ? matchEnd - m.Index : g.Length;
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

    /// <summary>The common path: allocation-free enumeration, restarted only after a rejected or extended match.</summary>
    private void FindWithoutGroups(string text, List<Detection> output)
    {
        var pos = 0;
        while (pos < text.Length)
        {
            var restart = -1;
            foreach (var m in _regex.EnumerateMatches(text, pos))
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
                while (restart < text.Length && _leftReject(text[restart - 1]))
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
