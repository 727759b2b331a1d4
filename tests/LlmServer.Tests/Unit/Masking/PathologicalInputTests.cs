using System.Text;
using static LlmServer.Tests.Unit.Masking.MaskingKit;
using T = LlmServer.Services.Masking.MaskingTypes;

namespace LlmServer.Tests.Unit.Masking;

/// <summary>
/// Inputs built to make backtracking engines explode (long runs of almost-matches). The engine is linear, so these
/// finish; the tests assert what is found, not how fast (speed is shown by bench/masking).
/// </summary>
public sealed class PathologicalInputTests
{
    private const int OneMegabyte = 1 << 20;

    private static string Repeat(string unit, int length)
    {
        var sb = new StringBuilder(length + unit.Length);
        while (sb.Length < length)
        {
            sb.Append(unit);
        }
        return sb.ToString();
    }

    [TestCase("1")]
    [TestCase("a")]
    [TestCase("a.")]
    [TestCase("1.")]
    [TestCase("a@")]
    [TestCase("a@b.")]
    [TestCase("01")]
    [TestCase("1-")]
    [TestCase(":")]
    [TestCase("1:")]
    [TestCase("AKIA")]
    [TestCase("eyJhbGciOiJub25lIn0.")]
    [TestCase("<<")]
    [TestCase("sk-")]
    [TestCase("arn:aws:iam::1:")]
    [TestCase("a@a.a ")]
    [TestCase("xoxb-1")]
    [TestCase("-----BEGIN ")]
    [TestCase("s3://a")]
    [TestCase("i-")]
    [TestCase("가")]
    public void MegabyteOfNearMatches_FindsNothingBogus_AndStillFindsARealValueAtTheEnd(string unit)
    {
        var text = Repeat(unit, OneMegabyte) + " 끝 me@example.com";
        var found = Scanner().Scan(text);
        var last = found[^1];
        Assert.That(text.Substring(last.Start, last.Length), Is.EqualTo("me@example.com"));
        Assert.That(found.Count(d => d.Type == T.Email), Is.EqualTo(1));
    }

    [Test]
    public async Task MegabyteOfDensePlaceholderLookalikes_RestoresWithoutStalling()
    {
        var session = Session();
        await session.MaskAsync("a@b.com");
        var text = Repeat("<<EMAIL_1>><<EMAIL_", OneMegabyte);
        var restored = await session.RestoreAsync(text);
        Assert.That(restored, Does.Not.Contain("<<EMAIL_1>>"));
        Assert.That(restored, Does.StartWith("a@b.com<<EMAIL_a@b.com"));
    }

    [Test]
    public async Task MegabyteOfRealValues_MasksEveryOne()
    {
        var text = Repeat("a@a.aa 010-1234-5678 ", OneMegabyte);
        var session = Session();
        var masked = await session.MaskAsync(text);
        var units = text.Length / "a@a.aa 010-1234-5678 ".Length;
        Assert.That(masked.Counts[T.Email], Is.EqualTo(units));
        Assert.That(masked.Counts[T.Phone], Is.EqualTo(units));
        Assert.That(masked.Text, Does.Not.Contain("@").And.Not.Contain("5678"));
        Assert.That(await session.RestoreAsync(masked.Text), Is.EqualTo(text));
    }
}
