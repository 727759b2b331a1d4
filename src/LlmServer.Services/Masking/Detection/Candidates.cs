using System.Buffers;

namespace LlmServer.Services.Masking.Detection;

/// <summary>Whether the anchor found at <paramref name="at"/> can belong to a value (a cheap look at its neighbours).</summary>
internal delegate bool AnchorCheck(string text, int at);

/// <summary>Where a detector is positioned between calls to <see cref="Candidates.Next"/>.</summary>
internal struct CandidateCursor
{
    /// <summary>Where the search for the next anchor goes on.</summary>
    public int Position;

    /// <summary>End of the last window handed out: the next one starts after it.</summary>
    public int Floor;
}

/// <summary>
/// The parts of a text where a detector can find something it would accept, so its regex runs there only.
/// A window is a maximal run of the characters a value of that detector is made of (so no value crosses its
/// edges) that holds the detector's anchor; every value the detector accepts lies in some window. Within a
/// window the regex sees exactly what it would see on the whole text, so the result is the same.
/// Windows come in text order and do not overlap.
/// </summary>
internal abstract class Candidates
{
    public abstract bool Next(ScanContext scan, ref CandidateCursor cursor, out int start, out int end);
}

/// <summary>
/// Windows around a literal or character every value contains (<c>eyJ</c>, <c>sk-</c>, <c>@</c>, <c>-</c> ...):
/// one vectorized search for the anchor, then the run of value characters around it.
/// </summary>
internal sealed class AnchorCandidates : Candidates
{
    private readonly SearchValues<string>? _literals;
    private readonly SearchValues<char>? _chars;
    private readonly SearchValues<char> _run;
    private readonly AnchorCheck? _check;

    private AnchorCandidates(SearchValues<string>? literals, SearchValues<char>? chars, SearchValues<char> run, AnchorCheck? check)
    {
        _literals = literals;
        _chars = chars;
        _run = run;
        _check = check;
    }

    /// <summary>Windows around any of <paramref name="literals"/> (case-sensitive, as the detectors' regexes are).</summary>
    public static AnchorCandidates Literal(SearchValues<char> run, params string[] literals)
    {
        foreach (var l in literals)
        {
            if (l.AsSpan().IndexOfAnyExcept(run) >= 0)
            {
                throw new ArgumentException($"The anchor '{l}' has characters outside its run.", nameof(literals));
            }
        }
        return new AnchorCandidates(SearchValues.Create(literals, StringComparison.Ordinal), null, run, null);
    }

    /// <summary>Windows around <paramref name="anchor"/> where <paramref name="check"/> accepts it.</summary>
    public static AnchorCandidates Char(SearchValues<char> run, char anchor, AnchorCheck? check = null)
    {
        if (!run.Contains(anchor))
        {
            throw new ArgumentException($"The anchor '{anchor}' is outside its run.", nameof(anchor));
        }
        return new AnchorCandidates(null, SearchValues.Create([anchor]), run, check);
    }

    public override bool Next(ScanContext scan, ref CandidateCursor cursor, out int start, out int end)
    {
        var text = scan.Text;
        while (cursor.Position < text.Length)
        {
            var rest = text.AsSpan(cursor.Position);
            var i = _literals is not null ? rest.IndexOfAny(_literals) : rest.IndexOfAny(_chars!);
            if (i < 0)
            {
                break;
            }
            var at = cursor.Position + i;
            if (_check is not null && !_check(text, at))
            {
                cursor.Position = at + 1;
                continue;
            }
            start = at;
            while (start > cursor.Floor && _run.Contains(text[start - 1]))
            {
                start--;
            }
            var length = text.AsSpan(at).IndexOfAnyExcept(_run);
            end = length < 0 ? text.Length : at + length;
            cursor.Position = cursor.Floor = end;
            return true;
        }
        cursor.Position = text.Length;
        start = end = 0;
        return false;
    }
}

/// <summary>
/// Windows for the numeric detectors (phones, registration numbers, cards, accounts, IPv4): the runs of
/// <c>0-9 .+()-</c> and space that hold enough digits, found once per scan and shared by those detectors.
/// </summary>
internal sealed class NumericCandidates : Candidates
{
    private readonly int _minDigits;
    private readonly int _minDots;
    private readonly bool _plus;

    public NumericCandidates(int minDigits, int minDots = 0, bool plus = false)
    {
        if (!ScanContext.IsUsable(minDigits, minDots))
        {
            throw new ArgumentException("The scan keeps no runs that short.", nameof(minDigits));
        }
        _minDigits = minDigits;
        _minDots = minDots;
        _plus = plus;
    }

    public override bool Next(ScanContext scan, ref CandidateCursor cursor, out int start, out int end)
    {
        var runs = scan.NumericRuns;
        while (cursor.Position < runs.Length)
        {
            var r = runs[cursor.Position++];
            if (r.Digits >= _minDigits && r.Dots >= _minDots && (!_plus || r.Plus))
            {
                start = r.Start;
                end = r.End;
                return true;
            }
        }
        start = end = 0;
        return false;
    }
}
