using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using LlmServer.Tests.Integration.Gateway;
using LlmServer.Tests.Unit.Anthropic;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>
/// /v1/messages and /v1/chat/completions to Anthropic upstreams over the one transport: retries before the first
/// byte, failover across a model's deployments, per-phase timeouts, and the catalogue's codes in the ledger. Two
/// fake Anthropic upstreams ("claude-a", and "claude-b" configured with /v1 in its base URL) serve "claude-pair";
/// "claude-solo" has claude-a only; "house-model" is translated to the OpenAI-compatible fake.
/// </summary>
[TestFixture]
public sealed class MessagesTransportTests
{
    private FakeUpstreamServer _a = null!;
    private FakeUpstreamServer _b = null!;
    private GatewayHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _a = await FakeUpstreamServer.StartAsync();
        _b = await FakeUpstreamServer.StartAsync();
        _host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Gateway:Upstreams:1:Name"] = "claude-a";
            s["LlmServer:Gateway:Upstreams:1:Kind"] = "anthropic";
            s["LlmServer:Gateway:Upstreams:1:BaseUrl"] = _a.BaseUrl;
            s["LlmServer:Gateway:Upstreams:1:ApiKey"] = "sk-ant-a";
            s["LlmServer:Gateway:Upstreams:2:Name"] = "claude-b";
            s["LlmServer:Gateway:Upstreams:2:Kind"] = "anthropic";
            s["LlmServer:Gateway:Upstreams:2:BaseUrl"] = _b.BaseUrl + "/v1";
            s["LlmServer:Gateway:Upstreams:2:ApiKey"] = "sk-ant-b";
            // NOTE: weight 0 on the second deployment: every request starts on claude-a, so failover is what reaches claude-b.
            s["LlmServer:Gateway:Models:1:Name"] = "claude-pair";
            s["LlmServer:Gateway:Models:1:Deployments:0:Upstream"] = "claude-a";
            s["LlmServer:Gateway:Models:1:Deployments:0:Model"] = "claude-sonnet-4-5";
            s["LlmServer:Gateway:Models:1:Deployments:1:Upstream"] = "claude-b";
            s["LlmServer:Gateway:Models:1:Deployments:1:Model"] = "claude-sonnet-4-5-b";
            s["LlmServer:Gateway:Models:1:Deployments:1:Weight"] = "0";
            s["LlmServer:Gateway:Models:2:Name"] = "claude-solo";
            s["LlmServer:Gateway:Models:2:Deployments:0:Upstream"] = "claude-a";
            s["LlmServer:Gateway:Models:2:Deployments:0:Model"] = "claude-sonnet-4-5";
        });
        _http = _host.Client();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [SetUp]
    public void Reset()
    {
        _a.Reset();
        _b.Reset();
        _host.Fake.Reset();
        _host.Usage.Clear();
    }

    private static int Posts(FakeUpstreamServer fake) => fake.Requests.Count(r => r.Method == "POST");

    private Task<HttpResponseMessage> PostAsync(string model, string text, bool stream = false, string? sessionHeader = null, string? sessionId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
        {
            Content = new StringContent($$"""{"model":"{{model}}","max_tokens":50,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{text}}"}]}""",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (sessionHeader is not null) request.Headers.TryAddWithoutValidation(sessionHeader, sessionId);
        return _http.SendAsync(request);
    }

    private Task<UsageRecord> RowAsync(string route = "messages") => _host.Usage.WaitForAsync(r => r.Route == route);

    [Test]
    public async Task Passthrough_503Then503ThenOk_AnswersAfterThreeCalls_WithOneLedgerRow()
    {
        _a.EnqueueFault(Fault.Http(503), times: 2);

        using var response = await PostAsync("claude-solo", "세 번째에 성공");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToJsonString());
        Assert.That((string?)body["content"]![0]!["text"], Is.EqualTo("Echo: 세 번째에 성공"));
        Assert.That(Posts(_a), Is.EqualTo(3));
        var row = await RowAsync();
        Assert.That((row.Status, row.ErrorCode, row.Upstream), Is.EqualTo((200, (string?)null, "claude-a")));
        Assert.That(_host.Usage.Records, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Passthrough_FirstDeploymentFailing_FailsOverToTheSecond_UnderItsModelName()
    {
        _a.EnqueueFault(Fault.Http(503), times: 3);

        using var response = await PostAsync("claude-pair", "다른 곳으로");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToJsonString());
        Assert.That((string?)body["model"], Is.EqualTo("claude-pair"), "the client sees the name it asked for");
        Assert.That(Posts(_a), Is.EqualTo(1));
        var sent = _b.Requests.Single(r => r.Method == "POST");
        Assert.That(sent.Path, Is.EqualTo("/v1/messages"), "a base URL given with /v1 gets no second one");
        Assert.That((string?)sent.Json!["model"], Is.EqualTo("claude-sonnet-4-5-b"));
        Assert.That(sent.Headers["x-api-key"], Is.EqualTo("sk-ant-b"));
        Assert.That(sent.Headers["anthropic-version"], Is.EqualTo("2023-06-01"));
        Assert.That((await RowAsync()).Upstream, Is.EqualTo("claude-b"));
    }

    [Test]
    public async Task Passthrough_FirstByteTimeout_Is504TimeoutErrorInAnthropicsShape()
    {
        _a.EnqueueFault(Fault.Slow(TimeSpan.FromSeconds(10)));

        using var response = await PostAsync("claude-solo", "느린 답");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(504));
        Assert.That((string?)body["type"], Is.EqualTo("error"));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("timeout_error"));
        Assert.That((string?)body["error"]!["message"], Is.Not.Empty);
        var row = await RowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((504, "upstream_timeout")));
    }

    [Test]
    public async Task Passthrough_StreamIdleTooLong_EndsWithTimeoutEvent_LedgerSays504()
    {
        _a.EnqueueFault(Fault.Stall(afterChunks: 2, TimeSpan.FromSeconds(10)));

        using var response = await PostAsync("claude-solo", "멈추는 스트림", stream: true);
        var frames = SseTestFrames.Parse(await response.Content.ReadAsStringAsync());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(frames[^1].Event, Is.EqualTo("error"));
        Assert.That((string?)SseTestFrames.Json(frames[^1].Data)["error"]!["type"], Is.EqualTo("timeout_error"));
        var row = await RowAsync();
        Assert.That((row.Status, row.ErrorCode, row.Stream), Is.EqualTo((504, "upstream_timeout", true)));
    }

    [Test]
    public async Task Translated_Upstream5xxThenOk_IsRetried()
    {
        _host.Fake.EnqueueFault(Fault.Http(502));

        using var response = await PostAsync("house-model", "번역 재시도");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToJsonString());
        Assert.That((string?)body["content"]![0]!["text"], Is.EqualTo("Echo: 번역 재시도"));
        Assert.That(_host.Fake.Requests.Count(r => r.Method == "POST" && r.Path == "/v1/chat/completions"), Is.EqualTo(2));
        Assert.That((await RowAsync()).Status, Is.EqualTo(200));
    }

    [Test]
    public async Task Translated_Upstream4xx_IsUpstreamRejectedWithTheUpstreamsStatus()
    {
        _host.Fake.EnqueueFault(Fault.Http(400));

        using var response = await PostAsync("house-model", "거절");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("invalid_request_error"));
        var row = await RowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((400, "upstream_rejected")));
    }

    [Test]
    public async Task Passthrough_Upstream4xx_IsRelayedAsIs()
    {
        _a.EnqueueFault(Fault.Http(404));

        using var response = await PostAsync("claude-solo", "없는 것");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.EqualTo(404));
        Assert.That((string?)JsonNode.Parse(text)!["type"], Is.EqualTo("error"));
        Assert.That(Posts(_a), Is.EqualTo(1), "a refusal is not retried");
        var row = await RowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((404, "upstream_rejected")));
    }

    [TestCase("x-session-id")]
    [TestCase("X-Claude-Code-Session-Id")]
    public async Task InvalidSessionId_Is400NamingTheHeader_NothingSentUpstream(string header)
    {
        using var response = await PostAsync("claude-solo", "x", sessionHeader: header, sessionId: new string('s', 129));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)body["error"]!["message"], Does.Contain(header));
        Assert.That(Posts(_a), Is.EqualTo(0));
        var row = await RowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((400, "invalid_session_id")));
    }

    [Test]
    public async Task ClaudeCodeSessionId_GroupsTheLedgerRow()
    {
        using var response = await PostAsync("claude-solo", "세션", sessionHeader: "X-Claude-Code-Session-Id", sessionId: "7f7c1c1e-claude-code");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await RowAsync()).SessionId, Is.EqualTo("7f7c1c1e-claude-code"));
    }

    [Test]
    public async Task ChatCompletions_OnAnthropicDeployments_FailOverToTheSecond()
    {
        _a.EnqueueFault(Fault.Http(529), times: 3);
        var body = """{"model":"claude-pair","messages":[{"role":"user","content":"채팅 장애 조치"}]}""";

        using var response = await _http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), answer.ToJsonString());
        Assert.That((string?)answer["choices"]![0]!["message"]!["content"], Is.EqualTo("Echo: 채팅 장애 조치"));
        Assert.That(Posts(_a), Is.EqualTo(1));
        Assert.That((string?)_b.Requests.Single(r => r.Method == "POST").Json!["model"], Is.EqualTo("claude-sonnet-4-5-b"));
        var row = await RowAsync("chat_completions");
        Assert.That((row.Status, row.Upstream), Is.EqualTo((200, "claude-b")));
    }

    [Test]
    public async Task ChatCompletions_OnAnthropic_5xxForever_Is502UpstreamError()
    {
        _a.EnqueueFault(Fault.Http(500), times: 3);
        var body = """{"model":"claude-solo","messages":[{"role":"user","content":"x"}]}""";

        using var response = await _http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(502));
        Assert.That((string?)error["error"]!["code"], Is.EqualTo("upstream_error"));
        Assert.That(Posts(_a), Is.EqualTo(3));
        var row = await RowAsync("chat_completions");
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((502, "upstream_error")));
    }
}

/// <summary>A breaker that opens after two failures: once open, /v1/messages answers at once, without calling the upstream.</summary>
[TestFixture]
public sealed class MessagesCircuitTests
{
    private FakeUpstreamServer _claude = null!;
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _claude = await FakeUpstreamServer.StartAsync();
        _host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Gateway:Upstreams:1:Name"] = "claude";
            s["LlmServer:Gateway:Upstreams:1:Kind"] = "anthropic";
            s["LlmServer:Gateway:Upstreams:1:BaseUrl"] = _claude.BaseUrl;
            s["LlmServer:Gateway:Upstreams:1:ApiKey"] = "sk-ant";
            s["LlmServer:Gateway:Upstreams:1:Models:0"] = "claude-sonnet-4-5";
            s["LlmServer:Gateway:CircuitBreaker:MinimumThroughput"] = "2";
            s["LlmServer:Gateway:CircuitBreaker:BreakSeconds"] = "30";
        });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _claude.DisposeAsync();
    }

    [Test]
    public async Task AllCircuitsOpen_Is503OverloadedWithRetryAfter_AndNoUpstreamCall()
    {
        using var http = _host.Client();
        StringContent Body() => new("""{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json");
        _claude.EnqueueFault(Fault.Http(503), times: 3);
        // NOTE: the circuit opens during this request's retries (two failures are enough), so it ends 502 or already 503.
        using (var failing = await http.PostAsync("/v1/messages", Body())) Assert.That((int)failing.StatusCode, Is.AnyOf(502, 503));
        var calls = _claude.Requests.Count;

        using var response = await http.PostAsync("/v1/messages", Body());
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(503));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("overloaded_error"));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(_claude.Requests.Count, Is.EqualTo(calls), "an open circuit sends nothing");
        var row = await _host.Usage.WaitForAsync(r => r.Status == 503);
        Assert.That(row.ErrorCode, Is.EqualTo("upstream_unavailable"));
    }
}
