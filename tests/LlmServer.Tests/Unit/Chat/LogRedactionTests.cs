using LlmServer.Api.Logging;

namespace LlmServer.Tests.Unit.Chat;

[TestFixture]
public sealed class LogRedactionTests
{
    [TestCase("calling with sk-proj-AbCdEf123456_xyz now", "sk-proj-AbCdEf123456_xyz")]
    [TestCase("Authorization: Bearer abc.def-ghi", "abc.def-ghi")]
    [TestCase("aws AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE")]
    [TestCase("x-api-key: my-anthropic-secret", "my-anthropic-secret")]
    public void Secrets_AreReplaced(string line, string secret)
    {
        var redacted = RedactSecretsWrapper.Redact(line);

        Assert.That(redacted, Does.Not.Contain(secret));
        Assert.That(redacted, Does.Contain("[REDACTED]"));
    }

    [Test]
    public void OrdinaryText_IsUnchanged()
    {
        const string line = "Chat call model=gpt-4o-mini key_source=user history_messages=2";

        Assert.That(RedactSecretsWrapper.Redact(line), Is.EqualTo(line));
    }
}
