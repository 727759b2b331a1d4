using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Routing;

namespace LlmServer.Tests.Unit.Routing;

[TestFixture]
public sealed class ContextLimitsTests
{
    [Test]
    public void MaxTokensOverWhatIsLeft_IsLoweredToFit()
    {
        var fit = ContextLimits.Decide(8192, 1200, 128000);

        Assert.That(fit.Verdict, Is.EqualTo(ContextVerdict.Clamped));
        Assert.That(fit.MaxTokens, Is.EqualTo(8192 - 1200));
        Assert.That(fit.ClampedHeaderValue, Is.EqualTo("128000->6992"));
    }

    [TestCase(1200, 6992)]
    [TestCase(1200, 100)]
    public void PromptAndMaxTokensThatFit_AreLeftAlone(long prompt, long maxTokens)
    {
        var fit = ContextLimits.Decide(8192, prompt, maxTokens);

        Assert.That(fit.Verdict, Is.EqualTo(ContextVerdict.Fits));
        Assert.That(fit.MaxTokens, Is.EqualTo(maxTokens));
    }

    [TestCase(8192)]
    [TestCase(9000)]
    public void APromptThatFillsTheContext_IsRefused_WithBothDialectsWording(long prompt)
    {
        var fit = ContextLimits.Decide(8192, prompt, 10);

        Assert.That(fit.Verdict, Is.EqualTo(ContextVerdict.PromptTooLong));
        Assert.That(fit.AnthropicMessage, Is.EqualTo($"prompt is too long: {prompt} tokens > 8192 maximum"));
        Assert.That(fit.OpenAiMessage, Does.StartWith("This model's maximum context length is 8192 tokens. However, your messages resulted in " + prompt + " tokens."));
    }

    [TestCase(null, 100L)]
    [TestCase(8192, null)]
    [TestCase(0, 100L)]
    public void WithoutAKnownContextOrMaxTokens_NothingNeedsCounting(int? context, long? maxTokens) =>
        Assert.That(ContextLimits.Applies(context, maxTokens), Is.False);

    [Test]
    public void Translation_LowersMaxTokensIntoTheField_TheUpstreamReads()
    {
        var request = (JsonObject)JsonNode.Parse("""{"model":"m","max_tokens":128000,"messages":[{"role":"user","content":"hi"}]}""")!;

        var chat = MessagesToChatRequest.Translate(request,
            new ChatTranslationOptions { MaxTokensField = "max_completion_tokens", ContextLength = 32768, PromptTokens = 768 }, out var fit);

        Assert.That((long?)chat["max_completion_tokens"], Is.EqualTo(32000));
        Assert.That(fit.ClampedHeaderValue, Is.EqualTo("128000->32000"));
    }

    [Test]
    public void Translation_OfAPromptOverTheContext_FailsWithAnthropicsMessage()
    {
        var request = (JsonObject)JsonNode.Parse("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}""")!;

        var e = Assert.Throws<AnthropicTranslationException>(() =>
            MessagesToChatRequest.Translate(request, new ChatTranslationOptions { ContextLength = 4096, PromptTokens = 5000 }, out _));

        Assert.That(e!.Message, Is.EqualTo("prompt is too long: 5000 tokens > 4096 maximum"));
    }
}
