using FsCheck;
using FsCheck.Fluent;
using LlmServer.Services.Masking;
using static LlmServer.Tests.Unit.Masking.MaskingKit;

namespace LlmServer.Tests.Unit.Masking;

public sealed class StreamingRestorerTests
{
    private static async Task<(MaskingSession Session, string Masked)> MaskedScenarioAsync()
    {
        var session = Session();
        var masked = await session.MaskAsync(MaskingSessionTests.AwsScenario);
        return (session, masked.Text);
    }

    private static async Task<string> StreamAsync(MaskingSession session, IEnumerable<string> chunks, bool json = false)
    {
        var restorer = session.CreateRestorer(json);
        var sb = new System.Text.StringBuilder();
        foreach (var c in chunks)
        {
            sb.Append(await restorer.PushAsync(c));
        }
        sb.Append(await restorer.FlushAsync());
        return sb.ToString();
    }

    [Test]
    public async Task EverySplitPoint_InTwoChunks_RestoresExactly()
    {
        var (session, masked) = await MaskedScenarioAsync();
        for (var i = 0; i <= masked.Length; i++)
        {
            var restored = await StreamAsync(session, [masked[..i], masked[i..]]);
            Assert.That(restored, Is.EqualTo(MaskingSessionTests.AwsScenario), $"split at {i}");
        }
    }

    [Test]
    public async Task OneCharacterPerChunk_RestoresExactly()
    {
        var (session, masked) = await MaskedScenarioAsync();
        Assert.That(await StreamAsync(session, masked.Select(c => c.ToString())), Is.EqualTo(MaskingSessionTests.AwsScenario));
    }

    [Test]
    public async Task RandomChunkings_RestoreExactly_Property()
    {
        var (session, masked) = await MaskedScenarioAsync();
        var cuts = Gen.ListOf(Gen.Choose(0, masked.Length)).Select(l => l.Distinct().Order().ToArray());
        Prop.ForAll(cuts.ToArbitrary(), points =>
        {
            var chunks = new List<string>();
            var prev = 0;
            foreach (var p in points)
            {
                chunks.Add(masked[prev..p]);
                prev = p;
            }
            chunks.Add(masked[prev..]);
            return StreamAsync(session, chunks).GetAwaiter().GetResult() == MaskingSessionTests.AwsScenario;
        }).QuickCheckThrowOnFailure();
        await Task.CompletedTask;
    }

    [Test]
    public async Task RandomTextWithPlaceholders_RoundTripsThroughAnyChunking_Property()
    {
        var session = Session();
        var masked = await session.MaskAsync("a@b.com 010-1234-5678 i-1234567890abcdef0 10.1.2.3");
        var originals = new Dictionary<string, string>
        {
            ["<<EMAIL_1>>"] = "a@b.com", ["<<PHONE_1>>"] = "010-1234-5678", ["<<AWS_EC2_1>>"] = "i-1234567890abcdef0",
            ["<<IPV4_1>>"] = "10.1.2.3",
        };
        Assert.That(originals.Keys.All(masked.Text.Contains));
        var pieces = Gen.Elements("<<EMAIL_1>>", "<<PHONE_1>>", "<<AWS_EC2_1>>", "<<IPV4_1>>", "<<EMAIL_9>>", "<", "<<", ">>",
            "＜＜", "가나다", " ", "text", "<<EMAIL", "_1", ">", "<<IPV4_1", "\n");
        var gen = Gen.NonEmptyListOf(pieces).SelectMany(p => Gen.ListOf(Gen.Choose(0, string.Concat(p).Length)),
            (p, cuts) => (Text: string.Concat(p), Cuts: cuts.Distinct().Order().ToArray()));
        Prop.ForAll(gen.ToArbitrary(), sample =>
        {
            var expected = Expected(sample.Text, originals);
            var chunks = new List<string>();
            var prev = 0;
            foreach (var c in sample.Cuts)
            {
                chunks.Add(sample.Text[prev..c]);
                prev = c;
            }
            chunks.Add(sample.Text[prev..]);
            return StreamAsync(session, chunks).GetAwaiter().GetResult() == expected;
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>Reference restore: left-to-right, a known placeholder is replaced, anything else kept.</summary>
    private static string Expected(string text, Dictionary<string, string> originals)
    {
        var sb = new System.Text.StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var hit = originals.Keys.FirstOrDefault(k => string.CompareOrdinal(text, i, k, 0, k.Length) == 0);
            if (hit is not null)
            {
                sb.Append(originals[hit]);
                i += hit.Length;
            }
            else
            {
                sb.Append(text[i++]);
            }
        }
        return sb.ToString();
    }

    [Test]
    public async Task HeldBackText_IsOnlyAPossiblePlaceholderSuffix()
    {
        var session = Session();
        await session.MaskAsync("a@b.com");
        var restorer = session.CreateRestorer();
        Assert.That(await restorer.PushAsync("hello <<EMA"), Is.EqualTo("hello "));
        Assert.That(restorer.PendingLength, Is.EqualTo(5));
        Assert.That(await restorer.PushAsync("IL_1>> and <<FOO"), Is.EqualTo("a@b.com and <<FOO"), "<<FOO cannot become a known type");
        Assert.That(await restorer.PushAsync(" 1 < 2"), Is.EqualTo(" 1 < 2"));
        Assert.That(await restorer.PushAsync(" x<"), Is.EqualTo(" x"));
        Assert.That(await restorer.FlushAsync(), Is.EqualTo("<"));
    }

    [Test]
    public async Task JsonEscapedStream_RestoresInsideToolArguments()
    {
        var session = Session();
        await session.MaskAsync("path C:\\temp a@b.com");
        var restorer = session.CreateRestorer(jsonEscaped: true);
        var parts = new[] { "{\"to\":\"<<EM", "AIL_1>>\",\"n\":1}" };
        var output = "";
        foreach (var p in parts)
        {
            output += await restorer.PushAsync(p);
        }
        output += await restorer.FlushAsync();
        Assert.That(output, Is.EqualTo("{\"to\":\"a@b.com\",\"n\":1}"));
        Assert.That(System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("to").GetString(), Is.EqualTo("a@b.com"));
    }
}
