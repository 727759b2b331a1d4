using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Models.Messages;
using LlmServer.FakeUpstream;
using LlmServer.Services.Tokens;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Unit.Anthropic;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>
/// /v1/messages end to end: the real server on a Kestrel port, the fake upstream on loopback speaking both
/// dialects, and the official Anthropic .NET SDK as the client. claude-* models go to the anthropic upstream
/// (passthrough); other models are translated to the OpenAI-compatible (vLLM) upstream.
/// </summary>
[TestFixture]
public sealed class MessagesEndpointTests
{
    private const string ClaudeModel = "claude-sonnet-4-5";
    private const string VllmModel = "fake-vllm-model";
    private const string AnthropicUpstreamKey = "sk-ant-upstream-secret";
    private const string VllmUpstreamKey = "vllm-upstream-secret";

    private LlmServerHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await LlmServerHostBuilder.Create()
            .WithAnthropic(AnthropicUpstreamKey)
            .WithVllm()
            .WithSettings(s =>
            {
                s["LlmServer:Anthropic:TimeoutSeconds"] = "2";
                s["LlmServer:Vllm:ApiKey"] = VllmUpstreamKey;
                s["LlmServer:Vllm:TimeoutSeconds"] = "2";
            })
            .WithRealLedger()
            .OnKestrel()
            .StartAsync();
        _http = _host.Client(null);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [SetUp]
    public void ResetFake() => _host.Fake.Reset();

    private AnthropicClient Sdk() => new()
    {
        ApiKey = "sk-client-key",
        BaseUrl = _http.BaseAddress!.ToString().TrimEnd('/'),
        MaxRetries = 0,
    };

    [Test]
    public async Task Models_ForAnAnthropicClient_AreListedInAnthropicsShape_WithTheClaudeModelsTheServerRoutes()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _http.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var page = await Sdk().Models.List();

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        var data = body["data"]!.AsArray();
        Assert.That(data.Select(m => (string?)m!["id"]), Does.Contain("claude-sonnet-4-5").And.Contain("fake-vllm-model"));
        Assert.That(data.Select(m => (string?)m!["type"]), Is.All.EqualTo("model"));
        Assert.That(data.All(m => DateTimeOffset.TryParse((string?)m!["created_at"], out _) && (string?)m!["display_name"] is { Length: > 0 }), Is.True);
        Assert.That((bool?)body["has_more"], Is.False);
        Assert.That((string?)body["first_id"], Is.EqualTo((string?)data[0]!["id"]));
        Assert.That((string?)body["last_id"], Is.EqualTo((string?)data[^1]!["id"]));
        Assert.That(body["object"], Is.Null, "not OpenAI's list");
        Assert.That(page.Items.Select(m => m.ID), Does.Contain("claude-sonnet-4-5"), "the official Anthropic SDK reads the list");
    }

    private static MessageCreateParams Params(string model, string text, bool withTool = false) => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = [new UserMessageParam(text)],
        Tools = withTool
            ? [new Tool
            {
                Name = "lookup",
                Description = "Looks a thing up",
                InputSchema = new InputSchema
                {
                    Properties = new Dictionary<string, JsonElement>
                    {
                        ["input"] = JsonSerializer.SerializeToElement(new { type = "string" }),
                    },
                },
            }]
            : null,
    };

    private RecordedRequest UpstreamCall() => _host.Fake.Requests.Single(r => r.Method == "POST");

    [TestCase(ClaudeModel, "/v1/messages")]
    [TestCase(VllmModel, "/v1/chat/completions")]
    public async Task Sdk_PlainMessage_ReturnsTextStopReasonAndUsage(string model, string upstreamPath)
    {
        _host.Fake.CachedTokens = 3;

        var message = await Sdk().Messages.Create(Params(model, "서울 날씨 어때?"));

        Assert.That(message.Content, Has.Count.EqualTo(1));
        Assert.That(message.Content[0].TryPickText(out var text), Is.True);
        Assert.That(text!.Text, Is.EqualTo("Echo: 서울 날씨 어때?"));
        Assert.That(message.StopReason?.Raw(), Is.EqualTo("end_turn"));
        Assert.That(message.Usage.InputTokens, Is.GreaterThan(0));
        Assert.That(message.Usage.OutputTokens, Is.GreaterThan(0));
        Assert.That(message.Usage.CacheReadInputTokens, Is.EqualTo(3));
        Assert.That(message.ID, Does.StartWith("msg_"));

        var sent = UpstreamCall();
        Assert.That(sent.Path, Is.EqualTo(upstreamPath));
        Assert.That(sent.Body, Does.Contain("서울 날씨 어때?"));
        if (model == ClaudeModel)
        {
            Assert.That(sent.Headers["x-api-key"], Is.EqualTo(AnthropicUpstreamKey), "the server's key goes upstream, not the client's");
            Assert.That(sent.Headers["anthropic-version"], Is.Not.Empty);
            Assert.That((int?)sent.Json!["max_tokens"], Is.EqualTo(256));
        }
        else
        {
            Assert.That(sent.ApiKey, Is.EqualTo(VllmUpstreamKey));
            Assert.That((string?)sent.Json!["messages"]![0]!["role"], Is.EqualTo("user"));
            Assert.That((string?)sent.Json!["messages"]![0]!["content"], Is.EqualTo("서울 날씨 어때?"));
            Assert.That((int?)sent.Json!["max_tokens"], Is.EqualTo(256));
            Assert.That(sent.Json!["system"], Is.Null);
        }
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task Sdk_Streaming_DeliversTextThenStopReasonAndUsage(string model)
    {
        var text = new StringBuilder();
        string? stopReason = null;
        long outputTokens = 0;
        var events = new List<string>();
        await foreach (var evt in Sdk().Messages.CreateStreaming(Params(model, "안녕하세요 반갑습니다")))
        {
            if (evt.TryPickStart(out _)) events.Add("message_start");
            if (evt.TryPickContentBlockStart(out _)) events.Add("content_block_start");
            if (evt.TryPickContentBlockDelta(out var d))
            {
                events.Add("content_block_delta");
                if (d!.Delta.TryPickText(out var t)) text.Append(t!.Text);
            }
            if (evt.TryPickContentBlockStop(out _)) events.Add("content_block_stop");
            if (evt.TryPickDelta(out var md))
            {
                events.Add("message_delta");
                stopReason = md!.Delta.StopReason?.Raw();
                outputTokens = md.Usage.OutputTokens;
            }
            if (evt.TryPickStop(out _)) events.Add("message_stop");
        }

        Assert.That(text.ToString(), Is.EqualTo("Echo: 안녕하세요 반갑습니다"));
        Assert.That(stopReason, Is.EqualTo("end_turn"));
        Assert.That(outputTokens, Is.GreaterThan(0));
        Assert.That(events[0], Is.EqualTo("message_start"));
        Assert.That(events[1], Is.EqualTo("content_block_start"));
        Assert.That(events[^3..], Is.EqualTo(new[] { "content_block_stop", "message_delta", "message_stop" }));
        if (model == VllmModel)
        {
            var sent = UpstreamCall().Json!;
            Assert.That((bool?)sent["stream"], Is.True);
            Assert.That((bool?)sent["stream_options"]!["include_usage"], Is.True);
        }
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task Sdk_ToolUse_ReturnsToolUseBlockWithInput(string model)
    {
        var message = await Sdk().Messages.Create(Params(model, "find 부산", withTool: true));

        var block = message.Content.Single(c => c.TryPickToolUse(out _));
        block.TryPickToolUse(out var toolUse);
        Assert.That(toolUse!.Name, Is.EqualTo("lookup"));
        Assert.That(toolUse.Input["input"].GetString(), Is.EqualTo("find 부산"));
        Assert.That(toolUse.ID, Is.Not.Empty);
        Assert.That(message.StopReason?.Raw(), Is.EqualTo("tool_use"));
        if (model == VllmModel)
        {
            var tool = UpstreamCall().Json!["tools"]![0]!;
            Assert.That((string?)tool["type"], Is.EqualTo("function"));
            Assert.That((string?)tool["function"]!["name"], Is.EqualTo("lookup"));
            Assert.That((string?)tool["function"]!["parameters"]!["properties"]!["input"]!["type"], Is.EqualTo("string"));
        }
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task Sdk_StreamingToolUse_InputJsonDeltasFormTheInput(string model)
    {
        var json = new StringBuilder();
        string? name = null;
        string? stopReason = null;
        await foreach (var evt in Sdk().Messages.CreateStreaming(Params(model, "키 값 찾기", withTool: true)))
        {
            if (evt.TryPickContentBlockStart(out var s) && s!.ContentBlock.TryPickToolUse(out var tu)) name = tu!.Name;
            if (evt.TryPickContentBlockDelta(out var d) && d!.Delta.TryPickInputJson(out var ij)) json.Append(ij!.PartialJson);
            if (evt.TryPickDelta(out var md)) stopReason = md!.Delta.StopReason?.Raw();
        }
        Assert.That(name, Is.EqualTo("lookup"));
        Assert.That((string?)JsonNode.Parse(json.ToString())!["input"], Is.EqualTo("키 값 찾기"));
        Assert.That(stopReason, Is.EqualTo("tool_use"));
    }

    [Test]
    public async Task Streaming_TranslatedEventsComeInAnthropicOrder()
    {
        var body = """{"model":"fake-vllm-model","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"one two three"}]}""";
        using var response = await _http.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var frames = SseTestFrames.Parse(await response.Content.ReadAsStringAsync());
        var names = frames.Select(f => f.Event).ToList();
        Assert.That(names[..3], Is.EqualTo(new[] { "message_start", "content_block_start", "ping" }));
        Assert.That(names[3..^3].Distinct(), Is.EqualTo(new[] { "content_block_delta" }));
        Assert.That(names[^3..], Is.EqualTo(new[] { "content_block_stop", "message_delta", "message_stop" }));
    }

    [Test]
    public async Task ToolResultTurn_ReachesOpenAiUpstreamAsToolMessages()
    {
        var body = """
            {"model":"fake-vllm-model","max_tokens":50,"system":"시스템 지침","stop_sequences":["STOP"],"messages":[
              {"role":"user","content":"look it up"},
              {"role":"assistant","content":[{"type":"tool_use","id":"call_fake1","name":"lookup","input":{"input":"look it up"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_fake1","content":"결과: 42"}]}]}
            """;
        using var response = await _http.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var sent = UpstreamCall().Json!;
        var roles = sent["messages"]!.AsArray().Select(m => (string?)m!["role"]).ToArray();
        Assert.That(roles, Is.EqualTo(new[] { "system", "user", "assistant", "tool" }));
        Assert.That((string?)sent["messages"]![0]!["content"], Is.EqualTo("시스템 지침"));
        Assert.That((string?)sent["messages"]![2]!["tool_calls"]![0]!["id"], Is.EqualTo("call_fake1"));
        Assert.That((string?)sent["messages"]![3]!["tool_call_id"], Is.EqualTo("call_fake1"));
        Assert.That((string?)sent["stop"]![0], Is.EqualTo("STOP"));
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)answer["content"]![0]!["text"], Is.EqualTo("Echo: 결과: 42"));
    }

    [Test]
    public async Task MalformedJson_Returns400InvalidRequestError()
    {
        using var response = await _http.PostAsync("/v1/messages", new StringContent("{\"model\": \"claude-sonnet-4-5\", \"messages\": [", Encoding.UTF8, "application/json"));
        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)error["error"]!["message"], Does.Contain("JSON"));
        Assert.That(_host.Fake.Requests, Is.Empty);
    }

    [TestCase("""{"max_tokens":10,"messages":[{"role":"user","content":"x"}]}""", "model")]
    [TestCase("""{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [TestCase("""{"model":"claude-sonnet-4-5","max_tokens":10}""", "messages")]
    [TestCase("""{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"tool","content":"x"}]}""", "role")]
    public async Task MissingRequiredField_Returns400NamingIt(string body, string field)
    {
        using var response = await _http.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)error["error"]!["message"], Does.Contain(field));
        Assert.That(_host.Fake.Requests, Is.Empty);
    }

    [TestCase("/v1/messages", """[1]""", "The request body must be a JSON object.")]
    [TestCase("/v1/messages", """{"model":"m","max_tokens":0,"messages":[]}""", "max_tokens: Input should be a positive integer.")]
    [TestCase("/v1/messages", """{"model":"m","max_tokens":5,"messages":[]}""", "messages: at least one message is required.")]
    [TestCase("/v1/messages", """{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"tool","content":"b"},{"role":"x"}]}""", "messages.1.role: Input should be 'user', 'assistant' or 'system'.")]
    [TestCase("/v1/messages", """{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}""", "messages.0.content: Field required.")]
    [TestCase("/v1/messages", """{"model":"m","max_tokens":5,"stream":"yes","messages":[{"role":"user","content":"a"}]}""", "stream: Input should be a valid boolean.")]
    [TestCase("/v1/messages/count_tokens", """{"model":"","messages":[{"role":"user","content":"a"}]}""", "model: Field required (a non-empty string).")]
    [TestCase("/v1/messages/count_tokens", """{"model":"m","messages":"hi"}""", "messages: Field required (a list of messages).")]
    public async Task InvalidRequest_Returns400WithTheFirstProblemOnly(string path, string body, string message)
    {
        using var response = await _http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)error["error"]!["message"], Is.EqualTo(message));
        Assert.That(_host.Fake.Requests, Is.Empty);
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task Upstream429_Returns429RateLimitErrorWithRetryAfter(string model)
    {
        _host.Fake.EnqueueFault(Fault.Http(429, retryAfter: "7"));
        using var response = await Post(model, stream: false);
        Assert.That((int)response.StatusCode, Is.EqualTo(429));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(7)));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("rate_limit_error"));
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task Upstream500OnEveryRetry_Returns502ApiErrorWithoutUpstreamInternals(string model)
    {
        for (var i = 0; i < 3; i++) _host.Fake.EnqueueFault(Fault.Http(500));
        using var response = await Post(model, stream: false);
        Assert.That((int)response.StatusCode, Is.EqualTo(502));
        var text = await response.Content.ReadAsStringAsync();
        var error = JsonNode.Parse(text)!;
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("api_error"));
        Assert.That(text, Does.Not.Contain("fake-internal"));
    }

    [Test]
    public async Task Upstream529_IsRetriedLikeAnyOther5xx()
    {
        _host.Fake.EnqueueFault(Fault.Http(529));
        using var response = await Post(ClaudeModel, stream: false);
        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(_host.Fake.Requests.Count(r => r.Method == "POST"), Is.EqualTo(2));
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task SlowUpstream_Returns504TimeoutError(string model)
    {
        _host.Fake.EnqueueFault(Fault.Slow(TimeSpan.FromSeconds(10)));
        using var response = await Post(model, stream: false);
        Assert.That((int)response.StatusCode, Is.EqualTo(504));
        Assert.That((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["type"], Is.EqualTo("timeout_error"));
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task StreamCutMidway_EndsWithErrorEvent(string model)
    {
        // NOTE: a delay lets the answer start before the reset; a reset racing the headers is a plain 502.
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(100);
        _host.Fake.EnqueueFault(Fault.Cut(afterChunks: 3));
        using var response = await Post(model, stream: true);
        var raw = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), raw);
        var frames = SseTestFrames.Parse(raw);
        Assert.That(frames[^1].Event, Is.EqualTo("error"));
        var error = SseTestFrames.Json(frames[^1].Data);
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.Not.Empty);
        Assert.That(frames.Any(f => f.Event == "message_stop"), Is.False);
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task StreamStallingLongerThanTimeout_EndsWithTimeoutErrorEvent(string model)
    {
        _host.Fake.EnqueueFault(Fault.Stall(afterChunks: 3, TimeSpan.FromSeconds(10)));
        using var response = await Post(model, stream: true);
        var raw = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), raw);
        var frames = SseTestFrames.Parse(raw);
        Assert.That(frames[0].Event, Is.EqualTo("message_start"));
        Assert.That(frames[^1].Event, Is.EqualTo("error"));
        Assert.That((string?)SseTestFrames.Json(frames[^1].Data)["error"]!["type"], Is.EqualTo("timeout_error"));
    }

    [Test]
    public async Task MalformedUpstreamBody_Returns502ApiError()
    {
        _host.Fake.EnqueueFault(Fault.Malformed());
        using var response = await Post(VllmModel, stream: false);
        Assert.That((int)response.StatusCode, Is.EqualTo(502));
        Assert.That((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["type"], Is.EqualTo("api_error"));
    }

    [Test]
    public async Task AnthropicVersionAndBetaHeaders_AreForwardedOnPassthrough()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent("""{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-01-01");
        request.Headers.Add("anthropic-beta", "prompt-caching-2024-07-31");
        request.Headers.Add("x-api-key", "sk-client-key");
        using var response = await _http.SendAsync(request);
        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(UpstreamCall().Headers["anthropic-version"], Is.EqualTo("2023-01-01"));
        Assert.That(UpstreamCall().Headers["anthropic-beta"], Is.EqualTo("prompt-caching-2024-07-31"));
        Assert.That(UpstreamCall().Headers["x-api-key"], Is.EqualTo(AnthropicUpstreamKey));
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task ClientDisconnect_CancelsUpstreamRequest(string model)
    {
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(300);
        _host.Fake.ChunkSize = 1;
        var body = $$"""{"model":"{{model}}","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"a long answer please"}]}""";
        // NOTE: no drain on dispose, so the client really hangs up instead of reading the rest for up to 2 s.
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = _http.BaseAddress };
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64];
            _ = await stream.ReadAsync(buffer);
        }
        Assert.That(await _host.Fake.WaitForAbortAsync(TimeSpan.FromSeconds(5)), Is.True, "the upstream request was aborted");
    }

    [Test]
    public async Task CountTokens_ModelWithoutATokenizer_EstimatesKoreanTextPerSyllable()
    {
        var result = await Sdk().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = VllmModel,
            Messages = [new UserMessageParam("안녕하세요 반갑습니다")],
        });
        // NOTE: ten syllables and a space, plus the framing of one message and of the reply.
        Assert.That(result.InputTokens, Is.EqualTo(11 + TokenCounter.PerMessage + TokenCounter.ReplyPriming));
        Assert.That(_host.Fake.Requests, Is.Empty, "estimated locally");
    }

    [Test]
    public async Task CountTokens_TranslatedOpenAiModel_CountsWithItsTiktokenEncoding()
    {
        var result = await Sdk().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "gpt-4o",
            System = "hello world",
            Messages = [new UserMessageParam("Python의 특징을 설명해주세요.")],
        });
        // NOTE: o200k_base gives "hello world" 2 tokens and the Korean sentence 7 (tiktoken's own figures);
        // the character-class estimate would say 3 and 19.
        Assert.That(result.InputTokens, Is.EqualTo(2 + 7 + TokenCounter.PerMessage + TokenCounter.ReplyPriming));
        Assert.That(_host.Fake.Requests, Is.Empty, "counted locally");
    }

    [Test]
    public async Task CountTokens_ClaudeModel_AsksAnthropicUpstream()
    {
        var result = await Sdk().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = ClaudeModel,
            Messages = [new UserMessageParam("hello")],
        });
        Assert.That(result.InputTokens, Is.GreaterThan(0));
        Assert.That(UpstreamCall().Path, Is.EqualTo("/v1/messages/count_tokens"));
    }

    [Test]
    public async Task CountTokens_MalformedJson_Returns400()
    {
        using var response = await _http.PostAsync("/v1/messages/count_tokens", new StringContent("not json", Encoding.UTF8, "application/json"));
        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["type"], Is.EqualTo("invalid_request_error"));
    }

    private Task<HttpResponseMessage> Post(string model, bool stream) =>
        _http.PostAsync("/v1/messages", new StringContent(
            $$"""{"model":"{{model}}","max_tokens":50,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"one two three four five"}]}""",
            Encoding.UTF8, "application/json"));
}
