using System.Net;
using System.Text;
using System.Net.Sockets;
using System.Text.Json;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Services.Masking.Detection;

/// <summary>The built-in detectors with their validation (checksums, dates, entropy, context words).</summary>
internal static class BuiltInDetectors
{
    private static readonly Func<char, bool> s_alnum = Chars.IsAsciiAlnum;
    private static readonly Func<char, bool> s_wordish = Chars.IsWordish;
    private static readonly Func<char, bool> s_alnumOrDash = c => Chars.IsAsciiAlnum(c) || c == '-';

    private static bool HasDigit(string text) => text.AsSpan().IndexOfAnyInRange('0', '9') >= 0;

    private static Func<string, bool> Contains(params string[] literals) => text =>
    {
        foreach (var l in literals)
        {
            if (text.Contains(l, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    };

    private static Func<string, bool> ContainsIgnoreCase(params string[] literals)
    {
        // NOTE: Hangul has no case, and ordinal search is much faster than ignore-case search for it.
        var ascii = literals.Where(l => Ascii.IsValid(l)).ToArray();
        var other = literals.Where(l => !Ascii.IsValid(l)).ToArray();
        return text =>
        {
            foreach (var l in other)
            {
                if (text.Contains(l, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            foreach (var l in ascii)
            {
                if (text.Contains(l, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
            return false;
        };
    }

    /// <summary>Right boundary for dotted numbers: not a letter/digit, and not ".digit" (so 1.2.3.4.5 is no IP).</summary>
    private static bool RejectDottedRight(string text, int i) =>
        i < text.Length && (Chars.IsAsciiAlnum(text[i])
            || (text[i] == '.' && i + 1 < text.Length && Chars.IsDigit(text[i + 1])));

    private static bool RejectDigitGroupRight(string text, int i) =>
        i < text.Length && (Chars.IsAsciiAlnum(text[i])
            || ((text[i] == '-' || text[i] == '.') && i + 1 < text.Length && Chars.IsDigit(text[i + 1])));

    internal static readonly string[] SecretKeywords =
        ["secret", "aws_secret_access_key", "secretaccesskey", "시크릿", "비밀 키", "비밀키", "비밀 액세스"];

    internal static readonly string[] AccountKeywords =
        ["account", "계정", "owner", "accountid", "account_id", "어카운트"];

    internal static readonly string[] RrnKeywords = ["주민", "외국인", "등록번호", "rrn", "resident"];
    internal static readonly string[] PassportKeywords = ["여권", "passport"];
    internal static readonly string[] LicenseKeywords = ["면허", "운전면허", "license", "licence"];

    // NOTE: 우리 ('we'), 하나 ('one') and 기업 ('company') are everyday words, so they only count with 은행 attached.
    internal static readonly string[] BankKeywords =
    [
        "계좌", "통장", "입금", "이체", "은행", "뱅크", "국민", "신한", "우리은행", "하나은행", "농협", "카카오뱅크",
        "토스뱅크", "케이뱅크", "기업은행", "새마을금고", "우체국", "수협", "신협", "bank account", "account no",
    ];

    public static IEnumerable<Detector> Create()
    {
        yield return new PemPrivateKeyDetector();

        yield return new RegexDetector(
            @"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 90, ClassifyJwt,
            c => Chars.IsWordish(c) || c == '.', prefilter: Contains("eyJ"));

        yield return new RegexDetector(
            @"sk-ant-[A-Za-z0-9_-]{20}", 86, RequireMixed(T.AnthropicKey, 7), s_wordish,
            prefilter: Contains("sk-ant-"), extend: s_wordish);
        yield return new RegexDetector(
            @"sk-[A-Za-z0-9_-]{20}", 85, ClassifyOpenAi, s_wordish,
            prefilter: Contains("sk-"), extend: s_wordish);
        yield return new RegexDetector(
            @"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}", 85, RequireMixed(T.GitHubToken, 4),
            c => Chars.IsAsciiAlnum(c) || c == '_', prefilter: ContainsIgnoreCase("gh", "github_pat_"),
            extend: c => Chars.IsAsciiAlnum(c) || c == '_');
        yield return new RegexDetector(
            @"xox[abposr]-[A-Za-z0-9-]{10}", 85, RequireDigit(T.SlackToken), s_wordish, prefilter: Contains("xox"),
            extend: c => Chars.IsAsciiAlnum(c) || c == '-');
        yield return new RegexDetector(
            @"AIza[A-Za-z0-9_-]{35}", 85, Always(T.GoogleApiKey), s_wordish, prefilter: Contains("AIza"));

        yield return new RegexDetector(
            @"(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{16}", 84, Always(T.AwsAccessKey),
            s_alnum, prefilter: Contains("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "ABIA", "ACCA"));

        yield return new RegexDetector(
            @"[A-Za-z0-9/+]{40}", 70, ClassifyAwsSecret, c => Chars.IsAsciiAlnum(c) || c is '/' or '+',
            (t, i) => i < t.Length && (Chars.IsAsciiAlnum(t[i]) || t[i] is '/' or '+' or '='),
            prefilter: ContainsIgnoreCase([.. SecretKeywords, "AKIA", "ASIA"]));

        yield return new RegexDetector(
            @"arn:aws(-cn|-us-gov|-iso|-iso-b)?:[a-z0-9-]{1,40}:[a-z0-9-]{0,30}:[0-9]{0,12}:[A-Za-z0-9_+=,.@/:*-]", 75,
            ClassifyArn, s_alnum, (_, _) => false, prefilter: Contains("arn:aws"), extend: IsArnResourceChar);

        yield return new RegexDetector(
            @"s3://(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])" +
            @"|arn:aws[a-z-]*:s3:::(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])" +
            @"|(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com" +
            @"|s3[.-]([a-z0-9-]+\.)?amazonaws\.com/(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])",
            76, ClassifyBucket, c => Chars.IsAsciiAlnum(c) || c is '.' or '-', (_, _) => false,
            prefilter: ContainsIgnoreCase("s3"), group: "v");

        yield return new RegexDetector(
            @"(i|vpc|subnet|sg|eni|ami|vol|snap|igw|nat|rtb|vpce|tgw|eipalloc)-([0-9a-f]{17}|[0-9a-f]{8})", 72,
            ClassifyResource, s_wordish, (t, i) => i < t.Length && (Chars.IsAsciiAlnum(t[i]) || t[i] == '_'),
            prefilter: Contains("-"));

        yield return new RegexDetector(
            @"[0-9]{12}", 43,
            (string t, int s, ref int l) => Chars.HasContext(t, s, s + l, AccountKeywords, 40, 0) ? T.AwsAccount : null,
            s_alnum, prefilter: HasDigit);

        yield return new RegexDetector(
            @"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", 60, ClassifyEmail,
            c => Chars.IsAsciiAlnum(c) || c is '.' or '_' or '%' or '+' or '-', prefilter: Contains("@"));

        yield return new RegexDetector(
            @"\+[1-9][0-9]{0,2}[ -]?(\(0?[0-9]{1,4}\)|[0-9]{1,4})([ -]?[0-9]{2,4}){1,3}", 52, ClassifyIntlPhone,
            s_alnum, RejectDigitGroupRight, prefilter: Contains("+"));
        yield return new RegexDetector(
            @"01[016789]-[0-9]{3,4}-[0-9]{4}|01[016789]\.[0-9]{3,4}\.[0-9]{4}|01[016789] [0-9]{3,4} [0-9]{4}" +
            @"|01[016789][0-9]{7,8}" +
            @"|0(2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70)-[0-9]{3,4}-[0-9]{4}" +
            @"|(15[0-9]{2}|16[0-9]{2}|18(00|11|22|33|44|55|66|77|88|99))-[0-9]{4}",
            50, Always(T.Phone), c => Chars.IsAsciiAlnum(c) || c is '-' or '+' or '.', RejectDigitGroupRight,
            prefilter: HasDigit);

        yield return new RegexDetector(
            @"[0-9]{6}-?[1-8][0-9]{6}", 65, ClassifyRrn, s_alnumOrDash, RejectDigitGroupRight, prefilter: HasDigit);
        yield return new RegexDetector(
            @"[0-9]{3}-[0-9]{2}-[0-9]{5}", 62,
            (string t, int s, ref int l) => IsValidBrn(t.AsSpan(s, l)) ? T.KrBrn : null,
            s_alnumOrDash, RejectDigitGroupRight, prefilter: HasDigit);
        yield return new RegexDetector(
            @"[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}|[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}|[0-9]{4}-[0-9]{6}-[0-9]{5}" +
            @"|[0-9]{4} [0-9]{6} [0-9]{5}|[0-9]{13,19}",
            55, ClassifyCard, s_alnumOrDash, RejectDigitGroupRight, prefilter: HasDigit);

        yield return new RegexDetector(
            @"[A-Z][0-9]{8}|[A-Z][0-9]{3}[A-Z][0-9]{4}", 45,
            (string t, int s, ref int l) => Chars.HasContext(t, s, s + l, PassportKeywords, 30, 0) ? T.Passport : null,
            s_alnum, prefilter: ContainsIgnoreCase(PassportKeywords));
        yield return new RegexDetector(
            @"[0-9]{2}-?[0-9]{2}-?[0-9]{6}-?[0-9]{2}", 46,
            (string t, int s, ref int l) => Chars.HasContext(t, s, s + l, LicenseKeywords, 30, 0) ? T.DriverLicense : null,
            s_alnumOrDash, RejectDigitGroupRight, prefilter: ContainsIgnoreCase(LicenseKeywords));
        yield return new RegexDetector(
            @"[0-9]{2,6}(-[0-9]{2,7}){1,4}|[0-9]{10,14}", 44, ClassifyBank, s_alnumOrDash, RejectDigitGroupRight,
            prefilter: ContainsIgnoreCase(BankKeywords));

        yield return new RegexDetector(
            @"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", 50, ClassifyIPv4, c => Chars.IsAsciiAlnum(c) || c == '.',
            RejectDottedRight, prefilter: Contains("."));
        yield return new RegexDetector(
            @"([0-9A-Fa-f]{0,4}:){2,7}([0-9A-Fa-f]{1,4}|[0-9]{1,3}(\.[0-9]{1,3}){3})?", 50, ClassifyIPv6,
            c => Chars.IsAsciiAlnum(c) || c is ':' or '.', RejectDottedRight, prefilter: Contains(":"));
    }

    private static bool IsArnResourceChar(char c) => Chars.IsAsciiAlnum(c) || c is '_' or '+' or '=' or ',' or '.' or '@' or '/' or ':' or '*' or '-';

    private static Classifier Always(string type) => RegexDetector.Always(type);

    private static Classifier RequireDigit(string type) =>
        (string t, int s, ref int l) => t.AsSpan(s, l).IndexOfAnyInRange('0', '9') >= 0 ? type : null;

    /// <summary>Random tokens mix digits and both cases; prose-like strings such as "sk-this-is-not-a-key" do not.</summary>
    private static Classifier RequireMixed(string type, int prefixLength) => (string t, int s, ref int l) =>
    {
        var body = t.AsSpan(s + prefixLength, l - prefixLength);
        return body.IndexOfAnyInRange('0', '9') >= 0 && body.IndexOfAnyInRange('a', 'z') >= 0
            && body.IndexOfAnyInRange('A', 'Z') >= 0 ? type : null;
    };

    private static string? ClassifyOpenAi(string text, int start, ref int length)
    {
        if (text.AsSpan(start, length).StartsWith("sk-ant-"))
        {
            return null;
        }
        return RequireMixed(T.OpenAiKey, 3)(text, start, ref length);
    }

    private static string? ClassifyJwt(string text, int start, ref int length)
    {
        var header = text.AsSpan(start, text.AsSpan(start, length).IndexOf('.'));
        if (header.Length > 4096)
        {
            return null;
        }
        Span<char> b64 = stackalloc char[header.Length + 3];
        header.CopyTo(b64);
        var n = header.Length;
        for (var i = 0; i < n; i++)
        {
            b64[i] = b64[i] switch { '-' => '+', '_' => '/', var c => c };
        }
        while (n % 4 != 0)
        {
            b64[n++] = '=';
        }
        Span<byte> bytes = stackalloc byte[n];
        if (!Convert.TryFromBase64Chars(b64[..n], bytes, out var written))
        {
            return null;
        }
        try
        {
            var reader = new Utf8JsonReader(bytes[..written]);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            reader.Skip();
            return reader.Read() ? null : T.Jwt;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static double Entropy(ReadOnlySpan<char> s)
    {
        Span<int> counts = stackalloc int[128];
        foreach (var c in s)
        {
            counts[c & 127]++;
        }
        double h = 0;
        foreach (var k in counts)
        {
            if (k > 0)
            {
                var p = (double)k / s.Length;
                h -= p * Math.Log2(p);
            }
        }
        return h;
    }

    private static string? ClassifyAwsSecret(string text, int start, ref int length)
    {
        var s = text.AsSpan(start, length);
        if (s.IndexOfAnyInRange('0', '9') < 0 || s.IndexOfAnyInRange('a', 'z') < 0 || s.IndexOfAnyInRange('A', 'Z') < 0
            || Entropy(s) < 4.0)
        {
            return null;
        }
        if (Chars.HasContext(text, start, start + length, SecretKeywords, 80, 0)
            || Chars.HasContext(text, start, start + length, ["AKIA", "ASIA"], 200, 200))
        {
            return T.AwsSecretKey;
        }
        return null;
    }

    private static string? ClassifyArn(string text, int start, ref int length)
    {
        while (length > 0 && text[start + length - 1] is '.' or ',' or ':')
        {
            length--;
        }
        var span = text.AsSpan(start, length);
        var afterPartition = span[(span[4..].IndexOf(':') + 5)..];
        if (afterPartition.StartsWith("s3:"))
        {
            return null;
        }
        return T.AwsArn;
    }

    private static string? ClassifyBucket(string text, int start, ref int length)
    {
        var b = text.AsSpan(start, length);
        if (b.Length < 3 || b.Contains("..", StringComparison.Ordinal) || IPAddress.TryParse(b, out _))
        {
            return null;
        }
        return T.AwsS3Bucket;
    }

    private static string? ClassifyResource(string text, int start, ref int length) =>
        text.AsSpan(start, text.AsSpan(start, length).IndexOf('-')) switch
        {
            "i" => T.AwsEc2,
            "vpc" => T.AwsVpc,
            "subnet" => T.AwsSubnet,
            "sg" => T.AwsSecurityGroup,
            "eni" => T.AwsEni,
            "ami" => T.AwsAmi,
            "vol" => T.AwsVolume,
            "snap" => T.AwsSnapshot,
            "igw" => T.AwsIgw,
            "nat" => T.AwsNat,
            "rtb" => T.AwsRouteTable,
            "vpce" => T.AwsVpcEndpoint,
            "tgw" => T.AwsTransitGateway,
            "eipalloc" => T.AwsEip,
            _ => null,
        };

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
        if (!dashed && !Chars.HasContext(text, start, start + length, RrnKeywords, 30, 0))
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
        return digits is >= 10 and <= 16 && Chars.HasContext(text, start, start + length, BankKeywords, 30, 15)
            ? T.BankAccount : null;
    }

    // NOTE: loopback (127/8) and the unspecified address (0.0.0.0) identify nothing and fill code samples, so
    // they stay readable; every other valid address, private ranges included, is masked.
    private static string? ClassifyIPv4(string text, int start, ref int length)
    {
        var s = text.AsSpan(start, length);
        foreach (var range in s.Split('.'))
        {
            var part = s[range];
            if (part.Length > 1 && part[0] == '0' || int.Parse(part) > 255)
            {
                return null;
            }
        }
        if (s.StartsWith("127.") || s.SequenceEqual("0.0.0.0"))
        {
            return null;
        }
        return T.IPv4;
    }

    private static string? ClassifyIPv6(string text, int start, ref int length)
    {
        while (length > 0 && text[start + length - 1] == ':' && !(length >= 2 && text[start + length - 2] == ':'))
        {
            length--;
        }
        var s = text.AsSpan(start, length);
        if (s.IndexOfAnyInRange('0', '9') < 0 || !IPAddress.TryParse(s, out var ip)
            || ip.AddressFamily != AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.IPv6Any))
        {
            return null;
        }
        var groups = 0;
        foreach (var range in s.Split(':'))
        {
            if (range.End.Value > range.Start.Value)
            {
                groups++;
            }
        }
        return groups >= 2 ? T.IPv6 : null;
    }
}

/// <summary>PEM private key blocks, found by hand (a block may span thousands of characters).</summary>
internal sealed class PemPrivateKeyDetector : Detector
{
    public override void Find(string text, List<Detection> output)
    {
        var pos = 0;
        while (pos < text.Length)
        {
            var begin = text.IndexOf("-----BEGIN ", pos, StringComparison.Ordinal);
            if (begin < 0)
            {
                return;
            }
            var headerEnd = text.IndexOf("-----", begin + 11, StringComparison.Ordinal);
            if (headerEnd < 0 || headerEnd - begin > 80
                || !text.AsSpan(begin, headerEnd - begin).EndsWith("PRIVATE KEY", StringComparison.Ordinal))
            {
                pos = begin + 11;
                continue;
            }
            var end = text.IndexOf("-----END ", headerEnd + 5, StringComparison.Ordinal);
            int stop;
            if (end < 0)
            {
                // NOTE: a truncated key is still a key: mask to the end of the text.
                stop = text.Length;
            }
            else
            {
                var close = text.IndexOf("-----", end + 9, StringComparison.Ordinal);
                stop = close < 0 ? text.Length : close + 5;
            }
            output.Add(new Detection(begin, stop - begin, MaskingTypes.PrivateKey, 100));
            pos = stop;
        }
    }
}
