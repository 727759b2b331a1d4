using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Integration.Pipeline;

/// <summary>/v1/messages is routed by the gateway's model table: passthrough to anthropic upstreams, translation to OpenAI-style ones.</summary>
[TestFixture]
public sealed class MessagesRoutingTests
{
    private FakeUpstreamServer _fake = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _fake = await FakeUpstreamServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _fake.DisposeAsync();

    [SetUp]
    public void Reset() => _fake.Reset();

    private LlmServerApp App(bool anthropicKey = true)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LlmServer:Gateway:Upstreams:0:Name"] = "house-vllm",
            ["LlmServer:Gateway:Upstreams:0:Kind"] = "openai_compatible",
            ["LlmServer:Gateway:Upstreams:0:BaseUrl"] = _fake.V1Url,
            ["LlmServer:Gateway:Upstreams:0:ApiKey"] = "house-vllm-key",
            ["LlmServer:Gateway:Upstreams:0:Models:0"] = "fake-vllm-model",
            ["LlmServer:Gateway:Upstreams:1:Name"] = "claude-eu",
            ["LlmServer:Gateway:Upstreams:1:Kind"] = "anthropic",
            ["LlmServer:Gateway:Upstreams:1:BaseUrl"] = _fake.BaseUrl,
            ["LlmServer:Gateway:Upstreams:1:ApiKey"] = "sk-ant-eu-key",
            ["LlmServer:Gateway:Models:0:Name"] = "house-claude",
            ["LlmServer:Gateway:Models:0:Deployments:0:Upstream"] = "claude-eu",
            ["LlmServer:Gateway:Models:0:Deployments:0:Model"] = "claude-sonnet-4-5",
            ["LlmServer:Gateway:Models:1:Name"] = "house-llama",
            ["LlmServer:Gateway:Models:1:Deployments:0:Upstream"] = "house-vllm",
            ["LlmServer:Gateway:Models:1:Deployments:0:Model"] = "fake-vllm-model",
        };
        if (anthropicKey)
        {
            settings["LlmServer:Anthropic:ApiKey"] = "sk-ant-implicit-key";
            settings["LlmServer:Anthropic:BaseUrl"] = _fake.BaseUrl;
        }
        return new LlmServerApp(settings);
    }

    private static async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(HttpClient http, string model)
    {
        var body = $$"""{"model":"{{model}}","max_tokens":50,"messages":[{"role":"user","content":"라우팅 확인"}]}""";
        using var response = await http.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Test]
    public async Task TableModelOnAnthropicUpstream_IsPassedThroughWithTheDeploymentsModelNameAndKey()
    {
        using var app = App();
        var (status, body) = await PostAsync(app.CreateClient(), "house-claude");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToJsonString());
        Assert.That((string?)body["content"]![0]!["text"], Is.EqualTo("Echo: 라우팅 확인"));
        Assert.That((string?)body["model"], Is.EqualTo("house-claude"), "the client sees the name it asked for");
        var sent = _fake.Requests.Single(r => r.Method == "POST");
        Assert.That(sent.Path, Is.EqualTo("/v1/messages"));
        Assert.That((string?)sent.Json!["model"], Is.EqualTo("claude-sonnet-4-5"), "the upstream's own model name");
        Assert.That(sent.Headers["x-api-key"], Is.EqualTo("sk-ant-eu-key"), "the deployment's upstream key");
    }

    [Test]
    public async Task TableModelOnAnthropicUpstream_Streamed_MessageStartNamesThePublicModel()
    {
        using var app = App();
        var body = """{"model":"house-claude","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"스트림"}]}""";
        using var response = await app.CreateClient().PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        var frames = LlmServer.Tests.Unit.Anthropic.SseTestFrames.Parse(await response.Content.ReadAsStringAsync());

        var start = LlmServer.Tests.Unit.Anthropic.SseTestFrames.Json(frames.First(f => f.Event == "message_start").Data);
        Assert.That((string?)start["message"]!["model"], Is.EqualTo("house-claude"));
        var text = string.Concat(frames.Where(f => f.Event == "content_block_delta")
            .Select(f => (string?)LlmServer.Tests.Unit.Anthropic.SseTestFrames.Json(f.Data)["delta"]!["text"]));
        Assert.That(text, Is.EqualTo("Echo: 스트림"));
        Assert.That(frames[^1].Event, Is.EqualTo("message_stop"));
    }

    [Test]
    public async Task TableModelOnOpenAiCompatibleUpstream_IsTranslatedWithTheDeploymentsModelName()
    {
        using var app = App();
        var (status, body) = await PostAsync(app.CreateClient(), "house-llama");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToJsonString());
        Assert.That((string?)body["type"], Is.EqualTo("message"));
        Assert.That((string?)body["model"], Is.EqualTo("house-llama"), "the client sees the name it asked for");
        var sent = _fake.Requests.Single(r => r.Method == "POST");
        Assert.That(sent.Path, Is.EqualTo("/v1/chat/completions"));
        Assert.That((string?)sent.Json!["model"], Is.EqualTo("fake-vllm-model"));
        Assert.That(sent.ApiKey, Is.EqualTo("house-vllm-key"));
    }

    [Test]
    public async Task ClaudeNameWithoutTableEntry_GoesToTheImplicitAnthropicUpstream()
    {
        using var app = App();
        var (status, _) = await PostAsync(app.CreateClient(), "claude-haiku-4-5");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        var sent = _fake.Requests.Single(r => r.Method == "POST");
        Assert.That((string?)sent.Json!["model"], Is.EqualTo("claude-haiku-4-5"));
        Assert.That(sent.Headers["x-api-key"], Is.EqualTo("sk-ant-implicit-key"));
    }

    [Test]
    public async Task ClaudeNameWithoutAnthropicKey_Is404NotFound()
    {
        using var app = App(anthropicKey: false);
        var (status, body) = await PostAsync(app.CreateClient(), "claude-haiku-4-5");

        Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string?)body["type"], Is.EqualTo("error"));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("not_found_error"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("claude-haiku-4-5"));
        Assert.That(_fake.Requests.Where(r => r.Method == "POST"), Is.Empty);
    }
}
