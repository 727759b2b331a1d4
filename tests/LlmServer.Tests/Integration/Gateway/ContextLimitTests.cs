using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Services.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>
/// A deployment whose context length is known (configured MaxModelLen, or vLLM's max_model_len from its
/// /v1/models): max_tokens above what is left is lowered and said in a header; a prompt over the context is a
/// 400 in the client's dialect and never reaches the upstream.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ContextLimitTests
{
    private const int Configured = 1500;
    private const int Discovered = 3000;
    private const string Header = "x-llmserver-max-tokens-clamped";
    private GatewayHost _configured = null!;
    private GatewayHost _discovering = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _configured = await GatewayHost.StartAsync(s => s["LlmServer:Gateway:Models:0:MaxModelLen"] = Configured.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var fake = await FakeUpstreamServer.StartAsync();
        fake.MaxModelLen = Discovered;
        _discovering = await GatewayHost.StartAsync(s =>
        {
            foreach (var k in s.Keys.Where(k => k.StartsWith("LlmServer:Gateway:Upstreams:0:Models", StringComparison.Ordinal) || k.StartsWith("LlmServer:Gateway:Models", StringComparison.Ordinal)).ToList()) s.Remove(k);
            s["LlmServer:Gateway:DefaultModel"] = "fake-vllm-model";
        }, fake);
        using var http = _discovering.Client();
        for (var i = 0; i < 100 && !(await http.GetStringAsync("v1/models")).Contains("fake-vllm-model", StringComparison.Ordinal); i++) await Task.Delay(50);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _configured.DisposeAsync();
        await _discovering.DisposeAsync();
    }

    [SetUp]
    public void Reset()
    {
        _configured.Fake.Reset();
        _discovering.Fake.Reset();
    }

    private static string Chat(string model, string text, long maxTokens, bool stream = false) =>
        new JsonObject
        {
            ["model"] = model, ["max_tokens"] = maxTokens, ["stream"] = stream,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }),
        }.ToJsonString();

    private static async Task<(HttpResponseMessage Response, JsonNode? Body)> PostAsync(GatewayHost host, string path, string json)
    {
        var (response, text) = await Anthropic.AgentRequests.PostAsync(host, path, json);
        return (response, JsonNode.Parse(text));
    }

    private static long Count(GatewayHost host, string json) =>
        host.Factory.Services.GetRequiredService<ITokenCounter>().CountRequest("fake-vllm-model", Encoding.UTF8.GetBytes(json));

    [TestCase(false)]
    [TestCase(true)]
    public async Task ChatCompletions_MaxTokensOverAConfiguredContext_IsLoweredToFit_AndTheHeaderSaysSo(bool stream)
    {
        var json = Chat("house-model", "Write a long story.", 128000, stream);
        var expected = Configured - Count(_configured, json);

        var (response, _) = await Anthropic.AgentRequests.PostAsync(_configured, "v1/chat/completions", json);

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((long?)_configured.Fake.LastRequest.Json!["max_tokens"], Is.EqualTo(expected));
        Assert.That(response.Headers.GetValues(Header).Single(), Is.EqualTo($"128000->{expected}"));
        Assert.That(_configured.Fake.LastRequest.Body, Does.Contain("\"model\":\"fake-vllm-model\""), "the other edits of the body still apply");
    }

    [TestCase("v1/completions", "max_tokens", false)]
    [TestCase("v1/completions", "max_tokens", true)]
    [TestCase("v1/responses", "max_output_tokens", false)]
    [TestCase("v1/responses", "max_output_tokens", true)]
    public async Task CompletionsAndResponses_MaxTokensOverAConfiguredContext_IsLoweredToFit_AndTheHeaderSaysSo(string path, string field, bool stream)
    {
        var body = new JsonObject { ["model"] = "house-model", [field] = 128000, ["stream"] = stream };
        if (path == "v1/completions") body["prompt"] = "Write a long story.";
        else body["input"] = "Write a long story.";
        var json = body.ToJsonString();
        var expected = Configured - Count(_configured, json);

        var (response, _) = await Anthropic.AgentRequests.PostAsync(_configured, path, json);

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((long?)_configured.Fake.LastRequest.Json![field], Is.EqualTo(expected));
        Assert.That(response.Headers.GetValues(Header).Single(), Is.EqualTo($"128000->{expected}"));
    }

    [Test]
    public async Task Completions_PromptOverTheContext_Is400ContextLengthExceeded_NamingThePrompt()
    {
        var json = new JsonObject { ["model"] = "house-model", ["max_tokens"] = 10, ["prompt"] = string.Join(' ', Enumerable.Repeat("context", 3000)) }.ToJsonString();

        var (response, body) = await PostAsync(_configured, "v1/completions", json);

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)body!["error"]!["code"], Is.EqualTo("context_length_exceeded"));
        Assert.That((string?)body["error"]!["param"], Is.EqualTo("prompt"));
        Assert.That(_configured.Fake.Requests, Is.Empty);
    }

    [Test]
    public async Task ChatCompletions_MaxTokensThatFits_GoesUnchanged_WithoutTheHeader()
    {
        var (response, _) = await PostAsync(_configured, "v1/chat/completions", Chat("house-model", "hi", 100));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((long?)_configured.Fake.LastRequest.Json!["max_tokens"], Is.EqualTo(100));
        Assert.That(response.Headers.Contains(Header), Is.False);
    }

    [Test]
    public async Task ChatCompletions_PromptOverTheContext_Is400ContextLengthExceeded_AndNothingGoesUpstream()
    {
        var (response, body) = await PostAsync(_configured, "v1/chat/completions", Chat("house-model", string.Join(' ', Enumerable.Repeat("context", 3000)), 10));

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)body!["error"]!["code"], Is.EqualTo("context_length_exceeded"));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)body["error"]!["message"], Does.Contain($"maximum context length is {Configured} tokens"));
        Assert.That(_configured.Fake.Requests, Is.Empty);
        var row = await _configured.Usage.WaitForAsync(r => r.Status == 400);
        Assert.That(row.ErrorCode, Is.EqualTo("context_length_exceeded"));
    }

    [Test]
    public async Task ChatCompletions_UseTheContextLengthVllmReports()
    {
        var json = Chat("fake-vllm-model", "Write a long story.", 128000);
        var expected = Discovered - Count(_discovering, json);

        var (response, _) = await PostAsync(_discovering, "v1/chat/completions", json);

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((long?)_discovering.Fake.LastRequest.Json!["max_tokens"], Is.EqualTo(expected));
        Assert.That(response.Headers.GetValues(Header).Single(), Is.EqualTo($"128000->{expected}"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Messages_ClaudeCodesMaxTokens_IsLoweredToTheTranslatedUpstreamsContext(bool stream)
    {
        var json = Chat("fake-vllm-model", "Write a long story.", 128000, stream);

        var (response, text) = await Anthropic.AgentRequests.PostAsync(_discovering, "v1/messages", json);

        Assert.That((int)response.StatusCode, Is.EqualTo(200), text);
        var sent = (long?)_discovering.Fake.LastRequest.Json!["max_tokens"];
        Assert.That(sent, Is.LessThan(Discovered).And.GreaterThan(Discovered - 100));
        Assert.That(response.Headers.GetValues(Header).Single(), Is.EqualTo($"128000->{sent}"));
    }

    [Test]
    public async Task Messages_PromptOverTheContext_Is400PromptTooLong_InAnthropicsShape()
    {
        var (response, body) = await PostAsync(_discovering, "v1/messages", Chat("fake-vllm-model", string.Join(' ', Enumerable.Repeat("context", 6000)), 10));

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)body!["type"], Is.EqualTo("error"));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)body["error"]!["message"], Does.Match($"^prompt is too long: \\d+ tokens > {Discovered} maximum$"));
        Assert.That(_discovering.Fake.Requests.Where(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)), Is.Empty);
    }
}
