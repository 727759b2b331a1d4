using System.Text;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Services.Masking.Detection;

/// <summary>The built-in detectors with their validation (checksums, dates, entropy, context words).</summary>
internal static partial class BuiltInDetectors
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
}
