using FsCheck;
using FsCheck.Fluent;
using static LlmServer.Tests.Unit.Masking.MaskingKit;

namespace LlmServer.Tests.Unit.Masking;

/// <summary>
/// Round-trip and idempotence over random mixes of secrets, Korean text and separators. (A placeholder the user
/// typed literally, e.g. "&lt;&lt;EMAIL_1&gt;&gt;", is indistinguishable from one the model echoes, so it is left out.)
/// </summary>
public sealed class MaskingPropertyTests
{
    private static readonly string[] Pieces =
    [
        "i-1234567890abcdef0", "vpc-0a1b2c3d", "AKIAIOSFODNN7EXAMPLE", "s3://team-logs/", "a@b.com", "010-1234-5678",
        "10.0.0.1", "900101-1234567", "4111-1111-1111-1111", "sk-proj-AbCdEf1234567890GhIjKlMn",
        "입니다", "를", "에서", " ", "\n", ",", ".", "(", ")", "\"", "text", "42", "-", "<", ">>", "＜＜", "가나다",
    ];

    [Test]
    public void MaskThenRestore_GivesTheOriginal_AndMaskingTwiceChangesNothing_Property()
    {
        var gen = Gen.NonEmptyListOf(Gen.Elements(Pieces)).Select(p => string.Concat(p));
        Prop.ForAll(gen.ToArbitrary(), text =>
        {
            var session = Session(apiKey: "prop");
            var masked = session.MaskAsync(text).AsTask().GetAwaiter().GetResult();
            var restored = session.RestoreAsync(masked.Text).AsTask().GetAwaiter().GetResult();
            var again = session.MaskAsync(restored).AsTask().GetAwaiter().GetResult();
            return restored == text && again.Text == masked.Text;
        }).QuickCheckThrowOnFailure();
    }
}
