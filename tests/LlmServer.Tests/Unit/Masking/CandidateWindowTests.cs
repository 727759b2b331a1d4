using System.Text;
using LlmServer.Services.Masking;
using static LlmServer.Tests.Unit.Masking.MaskingKit;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Tests.Unit.Masking;

/// <summary>
/// The scanner looks only around each detector's anchor (a literal such as <c>sk-</c> or <c>eyJ</c>, a character
/// such as <c>@</c>, a run of digits, a context word). A value must be found wherever it sits in a long text, and
/// text that holds an anchor but no value must stay clean.
/// </summary>
public sealed class CandidateWindowTests
{
    /// <summary>One value per detector, with the context word it needs (if any) in front of it.</summary>
    private static readonly (string Type, string Before, string Value)[] Values =
    [
        (T.AwsAccessKey, "키 ", "AKIAIOSFODNN7EXAMPLE"),
        (T.AwsSecretKey, "aws_secret_access_key = ", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        (T.AwsEc2, "인스턴스 ", "i-1234567890abcdef0"),
        (T.AwsVpc, "", "vpc-0a1b2c3d"),
        (T.AwsArn, "", "arn:aws:iam::123456789012:role/deploy"),
        (T.AwsS3Bucket, "버킷 s3://", "team-logs-2024"),
        (T.AwsAccount, "account id ", "123456789012"),
        (T.OpenAiKey, "", "sk-proj-AbCdEf1234567890GhIjKlMnOpQrStUv"),
        (T.AnthropicKey, "", "sk-ant-api03-AbCdEf1234567890GhIjKlMnOpQrStUv-xyz"),
        (T.GitHubToken, "", "ghp_AbCdEf1234567890GhIjKlMnOpQrStUvWx12"),
        (T.SlackToken, "", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
        (T.GoogleApiKey, "", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
        (T.Jwt, "Bearer ", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
        (T.Email, "메일 ", "hong.gildong@example.co.kr"),
        (T.Phone, "연락처 ", "010-1234-5678"),
        (T.Phone, "call ", "+1 (555) 123-4567"),
        (T.KrRrn, "주민번호 ", "900101-1234567"),
        (T.KrBrn, "사업자 ", "220-81-62517"),
        (T.CreditCard, "카드 ", "4111 1111 1111 1111"),
        (T.Passport, "여권번호 ", "M12345678"),
        (T.DriverLicense, "운전면허 ", "11-22-333333-44"),
        (T.BankAccount, "계좌 ", "110-123-456789"),
        (T.IPv4, "서버 ", "10.0.1.25"),
        (T.IPv6, "addr ", "2001:db8::8a2e:370:7334"),
    ];

    private static IEnumerable<TestCaseData> EveryValue() =>
        Values.Select(v => new TestCaseData(v.Type, v.Before, v.Value).SetArgDisplayNames(v.Type, v.Value));

    private static string Prose(int length)
    {
        string[] sentences =
        [
            "오늘 회의에서는 2024년 3분기 매출과 신규 기능 일정을 논의했습니다. ",
            "The deployment pipeline finished in 12 minutes and all 348 tests passed. ",
            "Please review the pull request before Friday; the migration touches 3 tables. ",
            "We moved the cache to a larger node, which cut p99 latency from 1.2 s to 0.4 s. ",
        ];
        var sb = new StringBuilder(length + 100);
        for (var i = 0; sb.Length < length; i++)
        {
            sb.Append(sentences[i % sentences.Length]);
        }
        return sb.ToString(0, length);
    }

    private static List<(string Type, string Value, int Start)> FindAll(string text) =>
        Scanner().Scan(text).Select(d => (d.Type, text.Substring(d.Start, d.Length), d.Start)).ToList();

    [TestCaseSource(nameof(EveryValue))]
    public void AValue_IsFound_AtTheStartInTheMiddleAndAtTheEndOfALongCleanText(string type, string before, string value)
    {
        var prose = Prose(100_000);
        foreach (var (name, text) in new[]
        {
            ("start", before + value + " " + prose),
            ("middle", prose[..50_000] + " " + before + value + " " + prose[50_000..]),
            ("end", prose + " " + before + value),
        })
        {
            var at = text.IndexOf(before + value, StringComparison.Ordinal) + before.Length;
            Assert.That(FindAll(text), Is.EqualTo(new[] { (type, value, at) }), name);
        }
    }

    [TestCaseSource(nameof(EveryValue))]
    public void AValue_IsFound_AtEveryOffsetAcrossVectorAndWindowBoundaries(string type, string before, string value)
    {
        // NOTE: 0..130 covers the 16-, 32- and 64-char blocks of the vectorized searches and the distance at which
        // neighbouring windows are searched as one range.
        for (var offset = 0; offset <= 130; offset++)
        {
            var text = "x " + new string(' ', offset) + before + value + " 끝";
            Assert.That(FindAll(text), Is.EqualTo(new[] { (type, value, 2 + offset + before.Length) }), $"offset {offset}");
        }
    }

    [TestCaseSource(nameof(EveryValue))]
    public void TwoValues_AreBothFound_WhetherCloseTogetherOrFarApart(string type, string before, string value)
    {
        foreach (var gap in new[] { 1, 10, 63, 64, 65, 200, 5_000 })
        {
            var second = new string(' ', gap) + before;
            var text = before + value + second + value + " 끝";
            Assert.That(FindAll(text), Is.EqualTo(new[] { (type, value, before.Length), (type, value, (before + value + second).Length) }), $"gap {gap}");
        }
    }

    [TestCase("sk-")]
    [TestCase("sk-ant-")]
    [TestCase("eyJ")]
    [TestCase("ghp_")]
    [TestCase("github_pat_")]
    [TestCase("xox")]
    [TestCase("AIza")]
    [TestCase("AKIA")]
    [TestCase("arn:aws")]
    [TestCase("s3")]
    [TestCase("s3://")]
    [TestCase("i-")]
    [TestCase("vpc-")]
    [TestCase("-")]
    [TestCase("@")]
    [TestCase("a@b")]
    [TestCase(":")]
    [TestCase("::")]
    [TestCase("+")]
    [TestCase("+82 ")]
    [TestCase("010-")]
    [TestCase("1.2.3")]
    [TestCase("12345")]
    [TestCase("secret ")]
    [TestCase("계좌 ")]
    [TestCase("passport ")]
    [TestCase("license ")]
    [TestCase("account ")]
    [TestCase("-----BEGIN ")]
    public void AnAnchorWithoutAValue_FindsNothing_AnywhereInALongText(string anchor)
    {
        var prose = Prose(20_000);
        var text = anchor + prose[..10_000] + " " + anchor + " " + prose[10_000..] + anchor;
        Assert.That(FindAll(text), Is.Empty);
    }

    [TestCase("x", "AKIAIOSFODNN7EXAMPLE", "")]
    [TestCase("", "AKIAIOSFODNN7EXAMPLE", "X")]
    [TestCase("a", "4111111111111111", "")]
    [TestCase("", "010-1234-5678", "9")]
    [TestCase("", "10.0.1.25", ".7")]
    [TestCase("x", "i-1234567890abcdef0", "")]
    [TestCase("", "sk-proj-AbCdEf1234567890GhIjKlMnOpQrStUv", "")]
    public void AValueGluedToAWordOrNumber_IsNotFound_InALongText(string left, string value, string right)
    {
        var prose = Prose(10_000);
        var glued = left + value + right;
        var text = prose + " " + glued + " " + prose;
        var found = FindAll(text).Where(f => f.Value.Contains(value, StringComparison.Ordinal) || value.Contains(f.Value, StringComparison.Ordinal));
        if (left == "" && right == "")
        {
            // NOTE: the one case meant to be found, so the glued ones above it fail for the right reason.
            Assert.That(found.Select(f => f.Value), Is.EqualTo(new[] { value }));
            return;
        }
        Assert.That(found, Is.Empty);
    }

    [Test]
    public void AContextWord_CountsOnlyNextToTheNumber_NotElsewhereInTheText()
    {
        var prose = Prose(10_000);
        Assert.That(FindAll("계좌 " + prose + " 110-123-456789"), Is.Empty, "context word far away");
        Assert.That(FindAll(prose + " 계좌 110-123-456789")[0].Type, Is.EqualTo(T.BankAccount));
    }

    [Test]
    public void ALargeChatBody_WithOneValueInItsLastMessage_GoesToTheFullPath()
    {
        var prose = Prose(2_000);
        var messages = Enumerable.Range(0, 100).Select(i => $$"""{"role":"{{(i % 2 == 0 ? "user" : "assistant")}}","content":{{System.Text.Json.JsonSerializer.Serialize(prose)}}}""").ToList();
        string Body() => $$"""{"model":"m","messages":[{{string.Join(",", messages)}}]}""";
        var service = Service();
        Assert.That(service.MayContainSensitiveData(Encoding.UTF8.GetBytes(Body())), Is.False);
        messages[^1] = $$"""{"role":"user","content":{{System.Text.Json.JsonSerializer.Serialize(prose + " 연락처 010-1234-5678")}}}""";
        Assert.That(service.MayContainSensitiveData(Encoding.UTF8.GetBytes(Body())), Is.True);
    }

    [Test]
    public void AnAllowListedValue_IsNoReasonForTheFullPath()
    {
        var service = Service(new MaskingOptions { AllowList = ["ops@corp.kr"] });
        Assert.That(service.MayContainSensitiveData("""{"model":"m","messages":[{"role":"user","content":"mail ops@corp.kr"}]}"""u8), Is.False);
        Assert.That(service.MayContainSensitiveData("""{"model":"m","messages":[{"role":"user","content":"mail dev@corp.kr"}]}"""u8), Is.True);
    }
}
