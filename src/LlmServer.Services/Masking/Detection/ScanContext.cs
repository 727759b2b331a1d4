using System.Buffers;

namespace LlmServer.Services.Masking.Detection;

/// <summary>A run of <c>0-9 .+()-</c> and space that some numeric detector can use (see <see cref="ScanContext.IsUsable"/>).</summary>
internal readonly record struct NumericRun(int Start, int End, int Digits, int Dots, bool Plus);

/// <summary>
/// One scan of one text: what the detectors share, computed on first use. One instance per thread is reused,
/// so a scan that finds nothing allocates nothing.
/// </summary>
internal sealed class ScanContext
{
    /// <summary>Fewest digits a numeric value other than an IPv4 address has (a phone number such as 1588-1234).</summary>
    public const int MinDigits = 8;

    /// <summary>Fewest digits and dots of an IPv4 address.</summary>
    public const int MinIPv4Digits = 4, MinIPv4Dots = 3;

    /// <summary>Whether a numeric detector can find anything in a run: years, counts and versions in prose are dropped.</summary>
    public static bool IsUsable(int digits, int dots) => digits >= MinDigits || (digits >= MinIPv4Digits && dots >= MinIPv4Dots);

    // NOTE: every character a numeric value can be written with; a value never crosses a character outside it.
    private static readonly SearchValues<char> s_numeric = SearchValues.Create("0123456789 .+()-");
    private const int KeptCapacity = 1024;

    [ThreadStatic]
    private static ScanContext? t_current;

    private NumericRun[] _runs = new NumericRun[16];
    private int _runCount = -1;

    private ScanContext(string text) => Text = text;

    public string Text { get; private set; }

    /// <summary>This thread's context, reset for <paramref name="text"/>.</summary>
    public static ScanContext For(string text)
    {
        var context = t_current ??= new ScanContext(text);
        context.Text = text;
        context._runCount = -1;
        if (context._runs.Length > KeptCapacity)
        {
            context._runs = new NumericRun[16];
        }
        return context;
    }

    /// <summary>Lets go of the text, so a thread that scanned a large body does not keep it alive.</summary>
    public void Release() => Text = string.Empty;

    /// <summary>The numeric runs of the text in order (computed on first use).</summary>
    public ReadOnlySpan<NumericRun> NumericRuns
    {
        get
        {
            if (_runCount < 0)
            {
                FindNumericRuns();
            }
            return _runs.AsSpan(0, _runCount);
        }
    }

    private void FindNumericRuns()
    {
        _runCount = 0;
        var text = Text;
        var pos = 0;
        while (pos < text.Length)
        {
            var i = text.AsSpan(pos).IndexOfAnyInRange('0', '9');
            if (i < 0)
            {
                break;
            }
            var first = pos + i;
            var start = first;
            while (start > pos && s_numeric.Contains(text[start - 1]))
            {
                start--;
            }
            int digits = 0, dots = 0;
            var plus = false;
            var end = start;
            for (; end < text.Length; end++)
            {
                var c = text[end];
                if (char.IsAsciiDigit(c))
                {
                    digits++;
                }
                else if (c == '.')
                {
                    dots++;
                }
                else if (c == '+')
                {
                    plus = true;
                }
                else if (c is not (' ' or '-' or '(' or ')'))
                {
                    break;
                }
            }
            if (IsUsable(digits, dots))
            {
                if (_runCount == _runs.Length)
                {
                    Array.Resize(ref _runs, _runs.Length * 2);
                }
                _runs[_runCount++] = new NumericRun(start, end, digits, dots, plus);
            }
            pos = end;
        }
    }
}
