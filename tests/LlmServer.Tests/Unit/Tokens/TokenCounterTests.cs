using System.Text;
using LlmServer.Services.Tokens;
using Microsoft.ML.Tokenizers;

namespace LlmServer.Tests.Unit.Tokens;

/// <summary>The server's one token counter: tiktoken counts for OpenAI models, the documented estimate for the rest.</summary>
public sealed class TokenCounterTests
{
    private static readonly TokenCounter s_counter = new();

    [TestCase("gpt-4o", TokenEncoding.O200kBase)]
    [TestCase("gpt-4o-mini-2024-07-18", TokenEncoding.O200kBase)]
    [TestCase("gpt-4.1-nano", TokenEncoding.O200kBase)]
    [TestCase("gpt-5", TokenEncoding.O200kBase)]
    [TestCase("gpt-5.1-codex", TokenEncoding.O200kBase)]
    [TestCase("o1", TokenEncoding.O200kBase)]
    [TestCase("o3-mini-2025-01-31", TokenEncoding.O200kBase)]
    [TestCase("o4-mini", TokenEncoding.O200kBase)]
    [TestCase("openai/gpt-4o", TokenEncoding.O200kBase)]
    [TestCase("gpt-4", TokenEncoding.Cl100kBase)]
    [TestCase("gpt-4-turbo-2024-04-09", TokenEncoding.Cl100kBase)]
    [TestCase("gpt-3.5-turbo", TokenEncoding.Cl100kBase)]
    [TestCase("gpt-35-turbo", TokenEncoding.Cl100kBase)]
    [TestCase("text-embedding-ada-002", TokenEncoding.Cl100kBase)]
    [TestCase("text-embedding-3-small", TokenEncoding.Cl100kBase)]
    [TestCase("claude-sonnet-4-5", TokenEncoding.Estimate)]
    [TestCase("meta-llama/Llama-3.1-8B-Instruct", TokenEncoding.Estimate)]
    [TestCase("o1x", TokenEncoding.Estimate)]
    [TestCase("", TokenEncoding.Estimate)]
    public void EachModel_IsCountedWithItsFamilysTokenizer(string model, TokenEncoding expected) =>
        Assert.That(s_counter.EncodingFor(model), Is.EqualTo(expected));

    // NOTE: reference counts from OpenAI's tiktoken for the same strings.
    [TestCase("gpt-4o", "hello world", 2)]
    [TestCase("gpt-4", "hello world", 2)]
    [TestCase("gpt-4o", "The quick brown fox jumps over the lazy dog.", 10)]
    [TestCase("gpt-4", "The quick brown fox jumps over the lazy dog.", 10)]
    [TestCase("gpt-4o", "tiktoken is great!", 6)]
    [TestCase("gpt-4o", "안녕하세요", 2)]
    [TestCase("gpt-4", "안녕하세요", 5)]
    [TestCase("gpt-4o", "Python의 특징을 설명해주세요.", 7)]
    [TestCase("gpt-3.5-turbo", "Python의 특징을 설명해주세요.", 13)]
    public void KnownText_HasTheTokenizersCount(string model, string text, int expected) =>
        Assert.That(s_counter.CountText(model, text), Is.EqualTo(expected));

    [Test]
    public void UnknownModel_UsesTheCharacterClassEstimate()
    {
        Assert.That(s_counter.CountText("claude-sonnet-4-5", new string('a', 400)), Is.EqualTo(100), "ASCII: four characters a token");
        Assert.That(s_counter.CountText("claude-sonnet-4-5", "안녕하세요"), Is.EqualTo(5), "Hangul: a token a syllable");
    }

    [Test]
    public void TextLongerThanTheExactPart_IsExtrapolatedFromTheExactSample()
    {
        var sentence = "서버는 토큰을 셉니다 and counts tokens in mixed text. ";
        var text = new StringBuilder();
        while (text.Length < TokenCounter.ExactChars * 8) text.Append(sentence);
        var exact = TiktokenTokenizer.CreateForModel("gpt-4o").CountTokens(text.ToString());

        var counted = s_counter.CountText("gpt-4o", text.ToString());

        Assert.That(counted, Is.EqualTo(exact).Within(3).Percent);
    }

    [Test]
    public void ChatBody_CountsTextAndFraming_NotStructure()
    {
        const string body = """{"model":"gpt-4o","user":"some-user-id-to-ignore","metadata":{"k":"a long value that is not read by the model"},"messages":[{"role":"system","content":"hello world"},{"role":"user","content":[{"type":"text","text":"안녕하세요"}]}]}""";
        var expected = 2 + 2 + 2 * TokenCounter.PerMessage + TokenCounter.ReplyPriming;

        Assert.That(s_counter.CountRequest("gpt-4o", Encoding.UTF8.GetBytes(body)), Is.EqualTo(expected));
    }

    [Test]
    public void ToolDefinitions_AreCounted_AndImagesCountAFixedAmount()
    {
        const string plain = """{"messages":[{"role":"user","content":"hello world"}]}""";
        const string withTools = """{"messages":[{"role":"user","content":"hello world"}],"tools":[{"type":"function","function":{"name":"lookup","description":"Finds an order by its number","parameters":{"type":"object","properties":{"order_number":{"type":"string","description":"The number printed on the receipt"}}}}}]}""";
        var image = "data:image/png;base64," + Convert.ToBase64String(new byte[300_000]);
        var withImage = """{"messages":[{"role":"user","content":[{"type":"text","text":"hello world"},{"type":"image_url","image_url":{"url":"IMAGE"}}]}]}""".Replace("IMAGE", image);

        var basis = s_counter.CountRequest("gpt-4o", Encoding.UTF8.GetBytes(plain));
        var tools = s_counter.CountRequest("gpt-4o", Encoding.UTF8.GetBytes(withTools));
        var images = s_counter.CountRequest("gpt-4o", Encoding.UTF8.GetBytes(withImage));

        Assert.That(tools - basis, Is.GreaterThanOrEqualTo(s_counter.CountText("gpt-4o", "Finds an order by its number") + s_counter.CountText("gpt-4o", "The number printed on the receipt")));
        Assert.That(images - basis, Is.EqualTo(TokenCounter.PerAttachment), "the base64 is not tokenized as text");
    }

    [Test]
    public void LongTextWithoutSpaces_IsCountedAsText_NotMistakenForBase64()
    {
        var random = new Random(7);
        var korean = new StringBuilder();
        while (korean.Length < 15_000) korean.Append((char)(0xAC00 + random.Next(11_172)));
        var body = new System.Text.Json.Nodes.JsonObject
        {
            ["messages"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["role"] = "user", ["content"] = korean.ToString() }),
        };

        var counted = s_counter.CountRequest("gpt-4o", Encoding.UTF8.GetBytes(body.ToJsonString()));

        Assert.That(counted, Is.EqualTo(s_counter.CountText("gpt-4o", korean.ToString()) + TokenCounter.PerMessage + TokenCounter.ReplyPriming));
    }

    [Test]
    public void AnthropicBody_CountsSystemMessagesAndToolResults()
    {
        const string body = """{"model":"gpt-4o","max_tokens":100,"system":[{"type":"text","text":"hello world"}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_0123456789","content":"안녕하세요"}]}]}""";

        Assert.That(s_counter.CountRequest("gpt-4o", Encoding.UTF8.GetBytes(body)), Is.EqualTo(2 + 2 + TokenCounter.PerMessage + TokenCounter.ReplyPriming));
    }

    [Test]
    public void EscapedText_IsCountedUnescaped()
    {
        var escaped = Encoding.UTF8.GetBytes("""{"prompt":"\uC548\uB155\uD558\uC138\uC694"}""");
        var plain = Encoding.UTF8.GetBytes("""{"prompt":"안녕하세요"}""");

        Assert.That(s_counter.CountRequest("gpt-4o", escaped), Is.EqualTo(s_counter.CountRequest("gpt-4o", plain)));
    }
}
