using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Services.Masking.Detection;

/// <summary>Validation of personal data: e-mail, phone numbers, Korean registration numbers (RRN, BRN), cards and bank accounts.</summary>
internal static partial class BuiltInDetectors
{
    private static string? ClassifyEmail(string text, int start, ref int length)
    {
        var s = text.AsSpan(start, length);
        var at = s.IndexOf('@');
        var local = s[..at];
        if (local.Length > 64 || s.Length > 254 || local[0] == '.' || local[^1] == '.'
            || local.Contains("..", StringComparison.Ordinal))
        {
            return null;
        }
        return T.Email;
    }

    private static string? ClassifyIntlPhone(string text, int start, ref int length)
    {
        var digits = 0;
        foreach (var c in text.AsSpan(start, length))
        {
            if (Chars.IsDigit(c))
            {
                digits++;
            }
        }
        return digits is >= 8 and <= 15 ? T.Phone : null;
    }

    private static string? ClassifyRrn(string text, int start, ref int length)
    {
        var s = text.AsSpan(start, length);
        var dashed = s[6] == '-';
        if (!dashed && !RrnKeywords.Near(text, start, start + length, 30, 0))
        {
            return null;
        }
        var g = s[dashed ? 7 : 6] - '0';
        var century = g is 1 or 2 or 5 or 6 ? 1900 : 2000;
        var year = century + (s[0] - '0') * 10 + (s[1] - '0');
        var month = (s[2] - '0') * 10 + (s[3] - '0');
        var day = (s[4] - '0') * 10 + (s[5] - '0');
        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            return null;
        }
        return g <= 4 ? T.KrRrn : T.KrFrn;
    }

    /// <summary>Business registration number check digit (weights 1,3,7,1,3,7,1,3,5).</summary>
    internal static bool IsValidBrn(ReadOnlySpan<char> s)
    {
        Span<int> d = stackalloc int[10];
        var n = 0;
        foreach (var c in s)
        {
            if (Chars.IsDigit(c))
            {
                if (n == 10)
                {
                    return false;
                }
                d[n++] = c - '0';
            }
        }
        if (n != 10)
        {
            return false;
        }
        ReadOnlySpan<int> w = [1, 3, 7, 1, 3, 7, 1, 3, 5];
        var sum = 0;
        for (var i = 0; i < 9; i++)
        {
            sum += d[i] * w[i];
        }
        sum += d[8] * 5 / 10;
        return (10 - sum % 10) % 10 == d[9];
    }

    internal static bool IsLuhn(ReadOnlySpan<char> s)
    {
        int sum = 0, n = 0;
        for (var i = s.Length - 1; i >= 0; i--)
        {
            if (!Chars.IsDigit(s[i]))
            {
                continue;
            }
            var d = s[i] - '0';
            if (n++ % 2 == 1)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }
            sum += d;
        }
        return n is >= 13 and <= 19 && sum % 10 == 0;
    }

    private static string? ClassifyCard(string text, int start, ref int length)
    {
        var s = text.AsSpan(start, length);
        return s[0] is >= '2' and <= '6' && IsLuhn(s) ? T.CreditCard : null;
    }

    private static string? ClassifyBank(string text, int start, ref int length)
    {
        var digits = 0;
        foreach (var c in text.AsSpan(start, length))
        {
            if (Chars.IsDigit(c))
            {
                digits++;
            }
        }
        return digits is >= 10 and <= 16 && BankKeywords.Near(text, start, start + length, 30, 15)
            ? T.BankAccount : null;
    }
}
