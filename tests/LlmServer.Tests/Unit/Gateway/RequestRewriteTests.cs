using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Routing;

namespace LlmServer.Tests.Unit.Gateway;

/// <summary>The body splice: only the model and include_usage change; the result stays valid JSON.</summary>
[TestFixture]
public sealed class RequestRewriteTests
{
    private static readonly UpstreamDefinition s_upstream = new()
    {
        Name = "u", Kind = UpstreamKinds.OpenAiCompatible, BaseUrl = "http://127.0.0.1:1/v1",
    };

    private static async Task<string> RewriteAsync(string body, string upstreamModel, bool injectUsage = true)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var scan = RequestScan.Run(bytes);
        Assert.That(scan.Error, Is.Null);
        var content = new SplicedBody(bytes, scan, injectUsage ? SplicedBody.IncludeUsageEdit(scan) : null).Create(new Deployment(s_upstream, upstreamModel, 1))!;
        var text = await content.ReadAsStringAsync();
        Assert.That(content.Headers.ContentLength, Is.EqualTo(Encoding.UTF8.GetByteCount(text)));
        return text;
    }

    [TestCase("""{"model":"a","stream":true,"messages":[]}""", """{"model":"b","stream":true,"messages":[],"stream_options":{"include_usage":true}}""")]
    [TestCase("""{"model":"a","stream":true,"stream_options":{}}""", """{"model":"b","stream":true,"stream_options":{"include_usage":true}}""")]
    [TestCase("""{"model":"a","stream":true,"stream_options":null}""", """{"model":"b","stream":true,"stream_options":{"include_usage":true}}""")]
    [TestCase("""{"model":"a","stream":true,"stream_options":{"include_usage":false}}""", """{"model":"b","stream":true,"stream_options":{"include_usage":true}}""")]
    [TestCase("""{"stream":true , "stream_options" : { "x" : 1 } }""", """{"model":"b","stream":true , "stream_options" : {"include_usage":true, "x" : 1 } }""")]
    [TestCase("""{}""", """{"model":"b"}""")]
    [TestCase("""{"model":null,"n":1}""", """{"model":"b","n":1}""")]
    public async Task Splice_ProducesExpectedBody(string input, string expected)
    {
        var output = await RewriteAsync(input, "b");

        Assert.That(output, Is.EqualTo(expected));
        Assert.That(JsonNode.Parse(output), Is.Not.Null);
    }

    [Test]
    public async Task SameModel_LeavesBodyUntouched()
    {
        const string body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\u00e9"}],"top_k":3}""";

        Assert.That(await RewriteAsync(body, "gpt-4o-mini"), Is.EqualTo(body));
    }

    [Test]
    public async Task ClientThatAskedForUsage_IsNotTouched()
    {
        const string body = """{"model":"m","stream":true,"stream_options":{"include_usage":true}}""";

        Assert.That(await RewriteAsync(body, "m"), Is.EqualTo(body));
    }

    [Test]
    public async Task UpstreamModelWithQuotes_IsEscaped()
    {
        var output = await RewriteAsync("""{"model":"a"}""", "we\"ird/model");

        Assert.That((string?)JsonNode.Parse(output)!["model"], Is.EqualTo("we\"ird/model"));
    }

    [TestCase("[1,2]")]
    [TestCase("""{"model":"a",}""")]
    [TestCase("""{"model":"a"} trailing""")]
    [TestCase("""{"model":42}""")]
    [TestCase("""{"model":"a","stream":"yes"}""")]
    public void InvalidBodies_AreReported(string body)
    {
        Assert.That(RequestScan.Run(Encoding.UTF8.GetBytes(body)).Error, Is.Not.Null);
    }

    [Test]
    public void UsageScanner_ReadsChatAndResponsesShapes()
    {
        var chat = UsageScanner.Scan("""{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":6},"completion_tokens_details":{"reasoning_tokens":2}}}"""u8, wantId: false);
        var responses = UsageScanner.Scan("""{"type":"response.completed","response":{"id":"resp_1","usage":{"input_tokens":7,"input_tokens_details":{"cached_tokens":1},"output_tokens":3}}}"""u8, wantId: true);

        Assert.That((chat.Usage.InputTokens, chat.Usage.CachedTokens, chat.Usage.OutputTokens, chat.Usage.ReasoningTokens, chat.ChoicesEmpty), Is.EqualTo((10L, 6L, 4L, 2L, true)));
        Assert.That((responses.Usage.InputTokens, responses.Usage.CachedTokens, responses.Usage.OutputTokens, responses.Id), Is.EqualTo((7L, 1L, 3L, "resp_1")));
    }
}
