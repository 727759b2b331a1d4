using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Api.Dialects.OpenAi;
using LlmServer.FakeUpstream;
using LlmServer.Services.Routing;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Unit.Anthropic;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>
/// The reverse bridge (an OpenAI chat request served by an anthropic upstream) against the fake Anthropic upstream;
/// its output is read back with the official OpenAI SDK's model readers. Routing to it is the gateway's.
/// </summary>
[TestFixture]
public sealed class ChatCompletionsViaAnthropicTests
{
    private FakeUpstreamServer _fake = null!;
    private LlmServerApp _app = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _fake = await FakeUpstreamServer.StartAsync();
        _app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Anthropic:ApiKey"] = "sk-ant-upstream",
            ["LlmServer:Anthropic:BaseUrl"] = _fake.BaseUrl,
            ["LlmServer:Gateway:Models:0:Name"] = "my-claude",
            ["LlmServer:Gateway:Models:0:Deployments:0:Upstream"] = "anthropic",
            ["LlmServer:Gateway:Models:0:Deployments:0:Model"] = "claude-sonnet-4-5",
        });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _app.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [SetUp]
    public void ResetFake() => _fake.Reset();

    private ModelRoute Route
    {
        get
        {
            Assert.That(_app.Services.GetRequiredService<IModelRouter>().TryResolve("my-claude", out var route), Is.True);
            return route;
        }
    }

    private async Task<(int Status, string Body)> RunAsync(string chatJson)
    {
        var bridge = _app.Services.GetRequiredService<ChatCompletionsViaAnthropic>();
        var context = new DefaultHttpContext();
        using var output = new MemoryStream();
        context.Response.Body = output;
        await bridge.HandleAsync(context, (JsonObject)JsonNode.Parse(chatJson)!, Route);
        return (context.Response.StatusCode, Encoding.UTF8.GetString(output.ToArray()));
    }

    [Test]
    public async Task PlainChat_ReachesAnthropicAsMessagesAndReturnsChatCompletion()
    {
        var (status, body) = await RunAsync("""
            {"model":"my-claude","messages":[{"role":"system","content":"간결하게"},{"role":"user","content":"안녕"}],"max_tokens":64}
            """);

        Assert.That(status, Is.EqualTo(200), body);
        var completion = ModelReaderWriter.Read<ChatCompletion>(BinaryData.FromString(body))!;
        Assert.That(completion.Content[0].Text, Is.EqualTo("Echo: 안녕"));
        Assert.That(completion.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(completion.Usage.OutputTokenCount, Is.GreaterThan(0));
        Assert.That(completion.Model, Is.EqualTo("my-claude"));

        var sent = _fake.LastRequest;
        Assert.That(sent.Path, Is.EqualTo("/v1/messages"));
        Assert.That(sent.Headers["x-api-key"], Is.EqualTo("sk-ant-upstream"));
        Assert.That(sent.Headers["anthropic-version"], Is.Not.Empty);
        Assert.That((string?)sent.Json!["system"], Is.EqualTo("간결하게"));
        Assert.That((string?)sent.Json!["model"], Is.EqualTo("claude-sonnet-4-5"));
        Assert.That((long?)sent.Json!["max_tokens"], Is.EqualTo(64));
    }

    [Test]
    public async Task ToolChat_ReturnsToolCallsFinishReason()
    {
        var (status, body) = await RunAsync("""
            {"model":"c","messages":[{"role":"user","content":"find it"}],
             "tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"input":{"type":"string"}}}}}]}
            """);
        Assert.That(status, Is.EqualTo(200), body);
        var completion = ModelReaderWriter.Read<ChatCompletion>(BinaryData.FromString(body))!;
        Assert.That(completion.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        Assert.That(completion.ToolCalls[0].FunctionName, Is.EqualTo("lookup"));
        Assert.That((string?)JsonNode.Parse(completion.ToolCalls[0].FunctionArguments.ToString())!["input"], Is.EqualTo("find it"));
        Assert.That((string?)_fake.LastRequest.Json!["tools"]![0]!["input_schema"]!["type"], Is.EqualTo("object"));
    }

    [Test]
    public async Task StreamedChat_BecomesChunksEndingWithDone()
    {
        var (status, body) = await RunAsync("""
            {"model":"c","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"하나 둘 셋"}]}
            """);
        Assert.That(status, Is.EqualTo(200));
        var frames = SseTestFrames.Parse(body);
        Assert.That(frames[^1].Data, Is.EqualTo("[DONE]"));
        var updates = frames.Take(frames.Count - 1)
            .Select(f => ModelReaderWriter.Read<StreamingChatCompletionUpdate>(BinaryData.FromString(f.Data))!).ToList();
        Assert.That(string.Concat(updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text)), Is.EqualTo("Echo: 하나 둘 셋"));
        Assert.That(updates.Select(u => u.FinishReason).Last(f => f is not null), Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(updates[^1].Usage?.OutputTokenCount, Is.GreaterThan(0));
    }

    [Test]
    public async Task Upstream429BeyondTheRetryCap_ReturnsOpenAiRateLimitErrorWithItsRetryAfter()
    {
        _fake.EnqueueFault(Fault.Http(429, "60"));
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        var outcome = await _app.Services.GetRequiredService<ChatCompletionsViaAnthropic>()
            .HandleAsync(context, (JsonObject)JsonNode.Parse("""{"model":"c","messages":[{"role":"user","content":"x"}]}""")!, Route);
        var body = JsonNode.Parse(Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()))!;
        Assert.That(context.Response.StatusCode, Is.EqualTo(429));
        Assert.That(context.Response.Headers.RetryAfter.ToString(), Is.EqualTo("60"));
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("upstream_rate_limited"));
        Assert.That(outcome.Error?.Code, Is.EqualTo("upstream_rate_limited"));
        Assert.That(_fake.Requests.Count(r => r.Method == "POST"), Is.EqualTo(1), "a Retry-After beyond the cap is not waited for");
    }

    [Test]
    public async Task Upstream503ThenOk_IsRetriedAndAnswers()
    {
        _fake.EnqueueFault(Fault.Http(503));
        _fake.EnqueueFault(Fault.Http(529));
        var (status, body) = await RunAsync("""{"model":"c","messages":[{"role":"user","content":"재시도"}]}""");
        Assert.That(status, Is.EqualTo(200), body);
        Assert.That(ModelReaderWriter.Read<ChatCompletion>(BinaryData.FromString(body))!.Content[0].Text, Is.EqualTo("Echo: 재시도"));
        Assert.That(_fake.Requests.Count(r => r.Method == "POST"), Is.EqualTo(3));
    }
}
