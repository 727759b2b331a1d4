using System.Buffers;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Services.Masking.Detection;

/// <summary>The built-in detectors with their validation (checksums, dates, entropy, context words).</summary>
internal static partial class BuiltInDetectors
{
    private static readonly Func<char, bool> s_alnum = Chars.IsAsciiAlnum;
    private static readonly Func<char, bool> s_wordish = Chars.IsWordish;
    private static readonly Func<char, bool> s_alnumOrDash = c => Chars.IsAsciiAlnum(c) || c == '-';

    /// <summary>Right boundary for dotted numbers: not a letter/digit, and not ".digit" (so 1.2.3.4.5 is no IP).</summary>
    private static bool RejectDottedRight(string text, int i) =>
        i < text.Length && (Chars.IsAsciiAlnum(text[i])
            || (text[i] == '.' && i + 1 < text.Length && Chars.IsDigit(text[i + 1])));

    /// <summary>Right boundary for e-mail: an address character, except a dot that ends the sentence ("… a@b.com.").</summary>
    private static bool RejectEmailRight(string text, int i) =>
        i < text.Length && (Chars.IsAsciiAlnum(text[i]) || text[i] is '_' or '%' or '+' or '-'
            || (text[i] == '.' && i + 1 < text.Length && Chars.IsAsciiAlnum(text[i + 1])));

    private static bool RejectDigitGroupRight(string text, int i) =>
        i < text.Length && (Chars.IsAsciiAlnum(text[i])
            || ((text[i] == '-' || text[i] == '.') && i + 1 < text.Length && Chars.IsDigit(text[i + 1])));

    internal static readonly Keywords SecretKeywords =
        new("secret", "aws_secret_access_key", "secretaccesskey", "시크릿", "비밀 키", "비밀키", "비밀 액세스");

    internal static readonly Keywords AccessKeyIds = new("AKIA", "ASIA");

    // NOTE: what every secret keyword or key id contains, so one cheap look tells whether any can be near a key.
    private static readonly Keywords s_secretGate = new("secret", "시크릿", "비밀", "AKIA", "ASIA");

    private static readonly Keywords s_s3 = new("s3");

    internal static readonly Keywords AccountKeywords = new("account", "계정", "owner", "accountid", "account_id", "어카운트");

    internal static readonly Keywords RrnKeywords = new("주민", "외국인", "등록번호", "rrn", "resident");
    internal static readonly Keywords PassportKeywords = new("여권", "passport");
    internal static readonly Keywords LicenseKeywords = new("면허", "운전면허", "license", "licence");

    // NOTE: 우리 ('we'), 하나 ('one') and 기업 ('company') are everyday words, so they only count with 은행 attached.
    internal static readonly Keywords BankKeywords = new(
        "계좌", "통장", "입금", "이체", "은행", "뱅크", "국민", "신한", "우리은행", "하나은행", "농협", "카카오뱅크",
        "토스뱅크", "케이뱅크", "기업은행", "새마을금고", "우체국", "수협", "신협", "bank account", "account no");

    // NOTE: the characters each kind of value is written with: a window for a detector is a run of these around
    // its anchor, so they must cover everything its regex and its tail extension can match.
    private static readonly SearchValues<char> s_wordishRun = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    private static readonly SearchValues<char> s_jwtRun = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.");
    private static readonly SearchValues<char> s_underscoreRun = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    private static readonly SearchValues<char> s_dashRun = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");
    private static readonly SearchValues<char> s_upperRun = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    private static readonly SearchValues<char> s_arnRun = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+=,.@/:*-");
    private static readonly SearchValues<char> s_resourceRun = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-");
    private static readonly SearchValues<char> s_lowerHex = SearchValues.Create("0123456789abcdef");
    private static readonly SearchValues<char> s_emailRun = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+@-");
    private static readonly SearchValues<char> s_ipv6Run = SearchValues.Create("0123456789ABCDEFabcdef:.");

    /// <summary>A resource id's dash follows its lower-case prefix and is followed by at least 8 hex digits.</summary>
    private static bool IsResourceDash(string t, int at) =>
        at > 0 && char.IsAsciiLetterLower(t[at - 1]) && at + 8 < t.Length && t.AsSpan(at + 1, 8).IndexOfAnyExcept(s_lowerHex) < 0;

    /// <summary>An e-mail's @ has a local-part character before it and a domain character after it.</summary>
    private static bool IsEmailAt(string t, int at) =>
        at > 0 && at + 1 < t.Length && s_emailRun.Contains(t[at - 1]) && t[at - 1] != '@'
        && (char.IsAsciiLetterOrDigit(t[at + 1]) || t[at + 1] == '-');

    /// <summary>An IPv6 address's first colon is followed by at most 4 hex digits and a second colon.</summary>
    private static bool IsIPv6Colon(string t, int at)
    {
        var limit = Math.Min(t.Length, at + 6);
        for (var i = at + 1; i < limit; i++)
        {
            if (t[i] == ':')
            {
                return true;
            }
            if (!char.IsAsciiHexDigit(t[i]))
            {
                return false;
            }
        }
        return false;
    }

    public static IEnumerable<Detector> Create()
    {
        yield return new PemPrivateKeyDetector();

        yield return new RegexDetector(
            @"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 90, ClassifyJwt,
            c => Chars.IsWordish(c) || c == '.', candidates: AnchorCandidates.Literal(s_jwtRun, "eyJ"));

        yield return new RegexDetector(
            @"sk-ant-[A-Za-z0-9_-]{20}", 86, RequireMixed(T.AnthropicKey, 7), s_wordish,
            candidates: AnchorCandidates.Literal(s_wordishRun, "sk-ant-"), extend: s_wordish);
        yield return new RegexDetector(
            @"sk-[A-Za-z0-9_-]{20}", 85, ClassifyOpenAi, s_wordish,
            candidates: AnchorCandidates.Literal(s_wordishRun, "sk-"), extend: s_wordish);
        yield return new RegexDetector(
            @"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}", 85, RequireMixed(T.GitHubToken, 4),
            c => Chars.IsAsciiAlnum(c) || c == '_', candidates: AnchorCandidates.Literal(s_underscoreRun, "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
            extend: c => Chars.IsAsciiAlnum(c) || c == '_');
        yield return new RegexDetector(
            @"xox[abposr]-[A-Za-z0-9-]{10}", 85, RequireDigit(T.SlackToken), s_wordish, candidates: AnchorCandidates.Literal(s_dashRun, "xox"),
            extend: c => Chars.IsAsciiAlnum(c) || c == '-');
        yield return new RegexDetector(
            @"AIza[A-Za-z0-9_-]{35}", 85, Always(T.GoogleApiKey), s_wordish, candidates: AnchorCandidates.Literal(s_wordishRun, "AIza"));

        yield return new RegexDetector(
            @"(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{16}", 84, Always(T.AwsAccessKey),
            s_alnum, candidates: AnchorCandidates.Literal(
                s_upperRun, "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "ABIA", "ACCA"));

        yield return new RegexDetector(
            @"[A-Za-z0-9/+]{40}", 70, ClassifyAwsSecret, c => Chars.IsAsciiAlnum(c) || c is '/' or '+',
            (t, i) => i < t.Length && (Chars.IsAsciiAlnum(t[i]) || t[i] is '/' or '+' or '='),
            gate: s_secretGate);

        yield return new RegexDetector(
            @"arn:aws(-cn|-us-gov|-iso|-iso-b)?:[a-z0-9-]{1,40}:[a-z0-9-]{0,30}:[0-9]{0,12}:[A-Za-z0-9_+=,.@/:*-]", 75,
            ClassifyArn, s_alnum, (_, _) => false, candidates: AnchorCandidates.Literal(s_arnRun, "arn:aws"), extend: IsArnResourceChar);

        yield return new RegexDetector(
            @"s3://(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])" +
            @"|arn:aws[a-z-]*:s3:::(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])" +
            @"|(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com" +
            @"|s3[.-]([a-z0-9-]+\.)?amazonaws\.com/(?<v>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])",
            76, ClassifyBucket, c => Chars.IsAsciiAlnum(c) || c is '.' or '-', (_, _) => false,
            gate: s_s3, group: "v");

        yield return new RegexDetector(
            @"(i|vpc|subnet|sg|eni|ami|vol|snap|igw|nat|rtb|vpce|tgw|eipalloc)-([0-9a-f]{17}|[0-9a-f]{8})", 72,
            ClassifyResource, s_wordish, (t, i) => i < t.Length && (Chars.IsAsciiAlnum(t[i]) || t[i] == '_'),
            candidates: AnchorCandidates.Char(s_resourceRun, '-', IsResourceDash));

        yield return new RegexDetector(
            @"[0-9]{12}", 43,
            (string t, int s, ref int l) => AccountKeywords.Near(t, s, s + l, 40, 0) ? T.AwsAccount : null,
            s_alnum, candidates: new NumericCandidates(12));

        yield return new RegexDetector(
            @"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", 60, ClassifyEmail,
            c => Chars.IsAsciiAlnum(c) || c is '.' or '_' or '%' or '+' or '-', RejectEmailRight,
            candidates: AnchorCandidates.Char(s_emailRun, '@', IsEmailAt));

        yield return new RegexDetector(
            @"\+[1-9][0-9]{0,2}[ -]?(\(0?[0-9]{1,4}\)|[0-9]{1,4})([ -]?[0-9]{2,4}){1,3}", 52, ClassifyIntlPhone,
            s_alnum, RejectDigitGroupRight, candidates: new NumericCandidates(8, plus: true));
        yield return new RegexDetector(
            @"01[016789]-[0-9]{3,4}-[0-9]{4}|01[016789]\.[0-9]{3,4}\.[0-9]{4}|01[016789] [0-9]{3,4} [0-9]{4}" +
            @"|01[016789][0-9]{7,8}" +
            @"|0(2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70)-[0-9]{3,4}-[0-9]{4}" +
            @"|(15[0-9]{2}|16[0-9]{2}|18(00|11|22|33|44|55|66|77|88|99))-[0-9]{4}",
            50, Always(T.Phone), c => Chars.IsAsciiAlnum(c) || c is '-' or '+' or '.', RejectDigitGroupRight,
            candidates: new NumericCandidates(8));

        yield return new RegexDetector(
            @"[0-9]{6}-?[1-8][0-9]{6}", 65, ClassifyRrn, s_alnumOrDash, RejectDigitGroupRight, candidates: new NumericCandidates(13));
        yield return new RegexDetector(
            @"[0-9]{3}-[0-9]{2}-[0-9]{5}", 62,
            (string t, int s, ref int l) => IsValidBrn(t.AsSpan(s, l)) ? T.KrBrn : null,
            s_alnumOrDash, RejectDigitGroupRight, candidates: new NumericCandidates(10));
        yield return new RegexDetector(
            @"[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}|[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}|[0-9]{4}-[0-9]{6}-[0-9]{5}" +
            @"|[0-9]{4} [0-9]{6} [0-9]{5}|[0-9]{13,19}",
            55, ClassifyCard, s_alnumOrDash, RejectDigitGroupRight, candidates: new NumericCandidates(13));

        yield return new RegexDetector(
            @"[A-Z][0-9]{8}|[A-Z][0-9]{3}[A-Z][0-9]{4}", 45,
            (string t, int s, ref int l) => PassportKeywords.Near(t, s, s + l, 30, 0) ? T.Passport : null,
            s_alnum, gate: PassportKeywords);
        yield return new RegexDetector(
            @"[0-9]{2}-?[0-9]{2}-?[0-9]{6}-?[0-9]{2}", 46,
            (string t, int s, ref int l) => LicenseKeywords.Near(t, s, s + l, 30, 0) ? T.DriverLicense : null,
            s_alnumOrDash, RejectDigitGroupRight, candidates: new NumericCandidates(12), gate: LicenseKeywords);
        yield return new RegexDetector(
            @"[0-9]{2,6}(-[0-9]{2,7}){1,4}|[0-9]{10,14}", 44, ClassifyBank, s_alnumOrDash, RejectDigitGroupRight,
            candidates: new NumericCandidates(10), gate: BankKeywords);

        yield return new RegexDetector(
            @"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", 50, ClassifyIPv4, c => Chars.IsAsciiAlnum(c) || c == '.',
            RejectDottedRight, candidates: new NumericCandidates(4, minDots: 3));
        yield return new RegexDetector(
            @"([0-9A-Fa-f]{0,4}:){2,7}([0-9A-Fa-f]{1,4}|[0-9]{1,3}(\.[0-9]{1,3}){3})?", 50, ClassifyIPv6,
            c => Chars.IsAsciiAlnum(c) || c is ':' or '.', RejectDottedRight,
            candidates: AnchorCandidates.Char(s_ipv6Run, ':', IsIPv6Colon));
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
