using LlmServer.Dto.Chat;
using LlmServer.Services.Chat;
using LlmServer.Services.Errors;

namespace LlmServer.Tests.Unit.Chat;

[TestFixture]
public sealed class KeySelectionTests
{
    [Test]
    public void UseUserApiKey_UsesCallersKey()
    {
        var s = KeySelection.Select(new ChatRequest { UseUserApiKey = true, OpenAiApiKey = "sk-user" }, hasServerKey: true);

        Assert.That(s, Is.EqualTo(new KeySelection("sk-user", "user")));
    }

    [Test]
    public void UseUserApiKey_WithoutKey_IsValidationError()
    {
        var ex = Assert.Throws<LlmServerException>(() => KeySelection.Select(new ChatRequest { UseUserApiKey = true }, hasServerKey: true));

        Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.Validation));
    }

    [Test]
    public void FreeMode_WithKey_UsesCallersKey()
    {
        Assert.That(KeySelection.Select(new ChatRequest { FreeMode = true, OpenAiApiKey = "sk-user" }, hasServerKey: true).Source, Is.EqualTo("user"));
    }

    [Test]
    public void FreeMode_WithoutKey_FallsBackToServerKey()
    {
        Assert.That(KeySelection.Select(new ChatRequest { FreeMode = true }, hasServerKey: true), Is.EqualTo(new KeySelection(null, "server")));
    }

    [Test]
    public void Default_UsesServerKeyEvenWhenCallerSentOne()
    {
        Assert.That(KeySelection.Select(new ChatRequest { OpenAiApiKey = "sk-user" }, hasServerKey: true), Is.EqualTo(new KeySelection(null, "server")));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void NoUsableKey_IsConfigurationMissingNamingOpenAiApiKey(bool freeMode)
    {
        var ex = Assert.Throws<LlmServerException>(() => KeySelection.Select(new ChatRequest { FreeMode = freeMode }, hasServerKey: false));

        Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.ConfigurationMissing));
        Assert.That(ex.Message, Does.Contain("OPENAI_API_KEY"));
    }
}
