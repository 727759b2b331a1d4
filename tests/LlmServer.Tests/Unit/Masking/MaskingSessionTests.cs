using System.Text.RegularExpressions;
using LlmServer.Services.Masking;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using static LlmServer.Tests.Unit.Masking.MaskingKit;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Tests.Unit.Masking;

public sealed class MaskingSessionTests
{
    /// <summary>Seed 004's scenario: EC2 ids, a VPC, IAM access keys and S3 buckets in a Korean prompt.</summary>
    internal const string AwsScenario = """
        프로덕션 환경 점검 부탁드립니다.
        EC2 인스턴스 i-1234567890abcdef0와 i-0fedcba9876543210이 vpc-0a1b2c3d4e5f67890 안에서 실행 중이고,
        IAM 액세스 키는 AKIAIOSFODNN7EXAMPLE, 시크릿은 aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY 입니다.
        로그는 s3://prod-app-logs-2024/에, 백업은 https://kr-backup-bucket.s3.ap-northeast-2.amazonaws.com/db.dump에 있습니다.
        보조 키 AKIAI44QH8DHBEXAMPLE를 쓰는 i-1234567890abcdef0도 확인해 주세요.
        """;

    internal static readonly string[] AwsOriginals =
    [
        "i-1234567890abcdef0", "i-0fedcba9876543210", "vpc-0a1b2c3d4e5f67890", "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "prod-app-logs-2024", "kr-backup-bucket", "AKIAI44QH8DHBEXAMPLE",
    ];

    [Test]
    public async Task AwsScenario_MaskedTextHoldsNoOriginal_AndRestoreGivesItBackExactly()
    {
        var session = Session();
        var masked = await session.MaskAsync(AwsScenario);

        foreach (var original in AwsOriginals)
        {
            Assert.That(masked.Text, Does.Not.Contain(original));
        }
        Assert.That(masked.Text, Does.Contain("<<AWS_EC2_1>>").And.Contain("<<AWS_EC2_2>>").And.Contain("<<AWS_VPC_1>>")
            .And.Contain("<<AWS_ACCESS_KEY_2>>").And.Contain("<<AWS_S3_BUCKET_2>>"));
        Assert.That(masked.Counts[T.AwsEc2], Is.EqualTo(3), "the repeated instance id counts each occurrence");
        Assert.That(Regex.Matches(masked.Text, "<<AWS_EC2_1>>").Count, Is.EqualTo(2), "same value, same placeholder");
        Assert.That(masked.Text, Does.Contain("와 <<AWS_EC2_2>>이"), "Hangul right after a value stays");
        Assert.That(await session.RestoreAsync(masked.Text), Is.EqualTo(AwsScenario));
        Assert.That(session.Summary.ToHeaderValue(), Is.EqualTo(
            "AWS_ACCESS_KEY=2, AWS_EC2=3, AWS_S3_BUCKET=2, AWS_SECRET_KEY=1, AWS_VPC=1"));
    }

    [Test]
    public async Task MaskingRestoredHistoryAgain_GivesTheSamePlaceholders()
    {
        var service = Service();
        var first = await service.Begin(MaskingRoute.Messages, sessionId: "conv-1", apiKey: "k").MaskAsync(AwsScenario);

        var next = service.Begin(MaskingRoute.ChatCompletions, sessionId: "conv-1", apiKey: "k");
        var again = await next.MaskAsync(AwsScenario + "\n새 질문: i-0aaaaaaaaaaaaaaaa는?");

        Assert.That(again.Text, Does.StartWith(first.Text));
        Assert.That(again.Text, Does.EndWith("<<AWS_EC2_3>>는?"));
        Assert.That(await next.RestoreAsync("답: <<AWS_EC2_1>>, <<aws_ec2_3>>"), Is.EqualTo("답: i-1234567890abcdef0, i-0aaaaaaaaaaaaaaaa"));
    }

    [Test]
    public async Task MaskedText_IsAFixedPoint()
    {
        var session = Session();
        var once = await session.MaskAsync(AwsScenario);
        var twice = await session.MaskAsync(once.Text);
        Assert.That(twice.Text, Is.EqualTo(once.Text));
        Assert.That(twice.Counts, Is.Empty);
    }

    [Test]
    public async Task Scopes_AreSeparate_PerApiKeyAndSession()
    {
        var service = Service();
        var a = service.Begin(MaskingRoute.Messages, apiKey: "key-a");
        var b = service.Begin(MaskingRoute.Messages, apiKey: "key-b");
        await a.MaskAsync("me@a.com, you@a.com");
        var masked = await b.MaskAsync("you@a.com");
        Assert.That(masked.Text, Is.EqualTo("<<EMAIL_1>>"));
        Assert.That(await b.RestoreAsync("<<EMAIL_2>>"), Is.EqualTo("<<EMAIL_2>>"), "key-b never saw EMAIL_2");
        Assert.That(await a.RestoreAsync("<<EMAIL_2>>"), Is.EqualTo("you@a.com"));
    }

    [Test]
    public async Task InventedPlaceholders_PassThroughUnchanged()
    {
        var session = Session();
        await session.MaskAsync("메일 a@b.com");
        const string answer = "<<EMAIL_1>> 그리고 <<EMAIL_7>>, <<NOT_A_TYPE_1>>, <<EMAIL_>>, <<EMAIL_01>>, <EMAIL_1>";
        Assert.That(await session.RestoreAsync(answer),
            Is.EqualTo("a@b.com 그리고 <<EMAIL_7>>, <<NOT_A_TYPE_1>>, <<EMAIL_>>, <<EMAIL_01>>, <EMAIL_1>"));
    }

    [Test]
    public async Task Restore_IsLenientOnCaseAndFullWidthBrackets()
    {
        var session = Session();
        await session.MaskAsync("010-1234-5678");
        Assert.That(await session.RestoreAsync("＜＜PHONE_1＞＞ / <<phone_1>> / ＜<Phone_1>＞"),
            Is.EqualTo("010-1234-5678 / 010-1234-5678 / 010-1234-5678"));
    }

    [Test]
    public async Task JsonEscapedRestore_EscapesOriginals()
    {
        var options = new MaskingOptions
        {
            CustomDetectors = [new CustomDetectorOptions { Type = "QUOTED", Pattern = "Q\"[a-z]+\\\\x", AsciiBoundary = false }],
        };
        var session = Session(options);
        var masked = await session.MaskAsync("say Q\"abc\\x now");
        Assert.That(masked.Text, Is.EqualTo("say <<QUOTED_1>> now"));
        Assert.That(await session.RestoreAsync("{\"v\":\"<<QUOTED_1>>\"}", jsonEscaped: true), Is.EqualTo("{\"v\":\"Q\\\"abc\\\\x\"}"));
        Assert.That(await session.RestoreAsync("<<QUOTED_1>>"), Is.EqualTo("Q\"abc\\x"));
    }

    [Test]
    public async Task RedactPolicy_ReplacesWithIrreversibleTypedTokens()
    {
        var session = Service(new MaskingOptions { Policy = MaskingPolicy.Redact }).Begin(MaskingRoute.Messages, apiKey: "k");
        var masked = await session.MaskAsync("메일 a@b.com, 전화 010-1234-5678");
        Assert.That(masked.Text, Is.EqualTo("메일 [REDACTED_EMAIL], 전화 [REDACTED_PHONE]"));
        Assert.That(session.RestoresResponses, Is.False);
        Assert.That(await session.RestoreAsync("<<EMAIL_1>>"), Is.EqualTo("<<EMAIL_1>>"));
    }

    [Test]
    public async Task BlockPolicy_RefusesWithTypesButNeverValues()
    {
        var session = Service(new MaskingOptions { Policy = MaskingPolicy.Block }).Begin(MaskingRoute.Messages);
        var ex = await Assert.ThrowsAsync<MaskingBlockedException>(async () => await session.MaskAsync("a@b.com 010-1234-5678 a@b.com"));
        Assert.That(ex!.Types, Is.EqualTo(new[] { T.Email, T.Phone }));
        Assert.That(ex.Message, Does.Contain("EMAIL").And.Contain("PHONE").And.Not.Contain("a@b.com").And.Not.Contain("5678"));
    }

    [Test]
    public async Task BlockPolicy_LetsCleanTextThrough()
    {
        var session = Service(new MaskingOptions { Policy = MaskingPolicy.Block }).Begin(MaskingRoute.Messages);
        Assert.That((await session.MaskAsync("안녕하세요")).Text, Is.EqualTo("안녕하세요"));
    }

    [Test]
    public async Task OffPolicy_AndRouteOverrides()
    {
        var options = new MaskingOptions
        {
            Policy = MaskingPolicy.Off,
            Routes = new(StringComparer.OrdinalIgnoreCase) { ["chat_completions"] = MaskingPolicy.Redact },
        };
        var service = Service(options);
        Assert.That((await service.Begin(MaskingRoute.Messages).MaskAsync("a@b.com")).Text, Is.EqualTo("a@b.com"));
        Assert.That((await service.Begin(MaskingRoute.ChatCompletions).MaskAsync("a@b.com")).Text, Is.EqualTo("[REDACTED_EMAIL]"));
    }

    [Test]
    public async Task VaultFailure_FailsClosed_WithoutTheValueInTheMessage()
    {
        var vault = Substitute.For<IMaskingVault>();
        vault.GetOrAddAsync(Arg.Any<string>(), Arg.Any<IReadOnlyList<VaultEntry>>(), Arg.Any<CancellationToken>())
            .ThrowsAsync(new InvalidOperationException("connection refused"));
        var session = Session(vault: vault);
        var ex = await Assert.ThrowsAsync<MaskingFailedException>(async () => await session.MaskAsync("a@b.com"));
        Assert.That(ex!.Message, Does.Not.Contain("a@b.com"));
    }

    [Test]
    public async Task VaultReadFailure_DuringRestore_FailsClosed()
    {
        var vault = Substitute.For<IMaskingVault>();
        vault.TryGetOriginalAsync(Arg.Any<string>(), Arg.Any<string>(), Arg.Any<CancellationToken>())
            .ThrowsAsync(new TimeoutException());
        var session = Session(vault: vault);
        await Assert.ThrowsAsync<MaskingFailedException>(async () => await session.RestoreAsync("<<EMAIL_1>>"));
    }

    [Test]
    public async Task RequestScope_WorksWithoutTouchingTheVault()
    {
        var vault = Substitute.For<IMaskingVault>();
        var session = Service(vault: vault).Begin(MaskingRoute.Completions);
        var masked = await session.MaskAsync("a@b.com");
        Assert.That(await session.RestoreAsync(masked.Text), Is.EqualTo("a@b.com"));
        Assert.That(vault.ReceivedCalls(), Is.Empty);
    }
}
