using System.Net;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Integration.Pipeline;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>
/// The session chat API sends through the shared upstream transport: retried before the first byte, per-phase
/// timeouts, a circuit breaker per deployment, and the catalogue's codes in its answers and its ledger rows.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SessionChatResilienceTests
{
    private LlmServerHost _host = null!;
    private FakeUpstreamServer _fake = null!;
    private CapturingUsageSink _sink = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await LlmServerHostBuilder.Create().WithSessionChat(ServerKey).WithSettings(s =>
        {
            s["LlmServer:Gateway:Retry:BaseDelayMs"] = "1";
            s["LlmServer:Gateway:Retry:MaxDelayMs"] = "5";
            s["LlmServer:Gateway:Timeouts:FirstByteSeconds"] = "1";
            // NOTE: the OpenAI provider section's own timeout is what the implicit openai upstream waits.
            s["LlmServer:OpenAi:TimeoutSeconds"] = "1";
            s["LlmServer:Gateway:CircuitBreaker:MinimumThroughput"] = "3";
            s["LlmServer:Gateway:CircuitBreaker:FailureRatio"] = "0.9";
            s["LlmServer:Gateway:CircuitBreaker:BreakSeconds"] = "30";
            // NOTE: a model of its own per request (its own deployment and circuit), each one the gateway routes.
            for (var i = 0; i < ModelPool; i++) s[$"LlmServer:Gateway:OpenAiModels:{1000 + i}"] = PoolModel(i);
        }).StartAsync();
        _fake = _host.Fake;
        _sink = _host.Usage;
        _client = _host.Client(null);
        // NOTE: warm the connection first so a cold start on a busy machine is not mistaken for the first-byte timeout.
        Assert.That((await PostAsync(_client, "/api/v1/chat", Chat("warm"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
    }

    [SetUp]
    public void Reset()
    {
        _fake.Reset();
        _sink.Clear();
    }

    private const int ModelPool = 64;
    private static int s_nextModel;

    private static string PoolModel(int i) => "m-pool-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A model no request of this fixture used before, so each test has its own deployment (and circuit breaker).</summary>
    private static string FreshModel() => PoolModel(Interlocked.Increment(ref s_nextModel) % ModelPool);

    /// <summary>A chat request on a model of its own (see <see cref="FreshModel"/>).</summary>
    private static string Chat(string prompt, string? model = null, bool stream = false, string? extra = null) =>
        $$"""{"user_prompt":"{{prompt}}","model":"{{model ?? FreshModel()}}","stream":{{(stream ? "true" : "false")}}{{extra}}}""";

    private static async Task<(int Status, JsonNode? Body, string Text, HttpResponseMessage Response)> SendAsync(HttpClient client, string json)
    {
        var response = await PostAsync(client, "/api/v1/chat", json, "en");
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? body = null;
        try { body = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
        return ((int)response.StatusCode, body, text, response);
    }

    private static string? CodeOf(JsonNode? body) => (string?)body?["error"]?["code"];

    private async Task<UsageRecord> OneRowAsync()
    {
        var rows = await PipelineTestKit.RowsAsync(_host, 1);
        Assert.That(rows, Has.Count.EqualTo(1), "exactly one ledger row per request");
        return rows[0];
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Upstream503Twice_ThenOk_IsRetried_AndAnswers200(bool stream)
    {
        _fake.EnqueueFault(Fault.Http(503), 2);

        var (status, _, text, _) = await SendAsync(_client, Chat("one two three", stream: stream));

        Assert.That(status, Is.EqualTo(200), text);
        Assert.That(text, Does.Contain("\"output_text\":\"Echo: one two three\""), "the answer, or the stream's summary");
        Assert.That(ResponsesCalls(_fake), Has.Count.EqualTo(3));
        var row = await OneRowAsync();
        Assert.That((row.Route, row.Status, row.ErrorCode, row.Stream), Is.EqualTo(("api_chat", 200, (string?)null, stream)));
    }

    [Test]
    public async Task Upstream503OnEveryAttempt_Is502UpstreamError_InAnswerAndLedger()
    {
        _fake.EnqueueFault(Fault.Http(503), 3);

        var (status, body, text, _) = await SendAsync(_client, Chat("hi"));

        Assert.That(status, Is.EqualTo(502), text);
        Assert.That(CodeOf(body), Is.EqualTo("upstream_error"));
        Assert.That((bool?)body!["success"], Is.False);
        Assert.That(ResponsesCalls(_fake), Has.Count.EqualTo(3));
        var row = await OneRowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((502, "upstream_error")));
    }

    [Test]
    public async Task FirstByteTimeout_Is504UpstreamTimeout_NamingTheTimeout()
    {
        _fake.EnqueueFault(Fault.Slow(TimeSpan.FromSeconds(20)));

        var (status, body, text, _) = await SendAsync(_client, Chat("hi"));

        Assert.That(status, Is.EqualTo(504), text);
        Assert.That(CodeOf(body), Is.EqualTo("upstream_timeout"));
        Assert.That((string?)body!["error"]!["message"], Does.Contain("1 s"));
        var row = await OneRowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((504, "upstream_timeout")));
    }

    [Test]
    public async Task UpstreamRateLimit_Is429UpstreamRateLimited_WithItsRetryAfter_InAnswerAndLedger()
    {
        _fake.EnqueueFault(Fault.Http(429, retryAfter: "40"));

        var (status, body, text, response) = await SendAsync(_client, Chat("hi"));

        Assert.That(status, Is.EqualTo(429), text);
        Assert.That(CodeOf(body), Is.EqualTo("upstream_rate_limited"));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(40)));
        var row = await OneRowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((429, "upstream_rate_limited")));
    }

    [Test]
    public async Task StreamCutByUpstream_EndsWithUpstreamDisconnected_LedgerRow502()
    {
        _fake.ChunkDelay = TimeSpan.FromMilliseconds(100); // let the first deltas reach the server before the reset
        _fake.EnqueueFault(Fault.Cut(afterChunks: 6));

        var (status, _, text, _) = await SendAsync(_client, Chat("a b c d e f g", stream: true));

        Assert.That(status, Is.EqualTo(200));
        Assert.That(text, Does.Contain("event: error"));
        Assert.That(text, Does.Contain("upstream_disconnected"));
        Assert.That(text, Does.Not.Contain("event: done"));
        var row = await OneRowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((502, "upstream_disconnected")));
    }

    [Test]
    public async Task FailingDeployment_OpensItsCircuit_ThenAnswers503UpstreamUnavailable_WithoutCallingIt()
    {
        var model = FreshModel();
        _fake.EnqueueFault(Fault.Http(500), 3);
        var failing = await SendAsync(_client, Chat("hi", model));
        Assert.That(failing.Status, Is.EqualTo(502), failing.Text);
        var callsBefore = ResponsesCalls(_fake).Count;
        _sink.Clear();

        var (status, body, text, response) = await SendAsync(_client, Chat("hi", model));

        Assert.That(status, Is.EqualTo(503), text);
        Assert.That(CodeOf(body), Is.EqualTo("upstream_unavailable"));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(ResponsesCalls(_fake), Has.Count.EqualTo(callsBefore), "an open circuit is not called");
        var row = await OneRowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((503, "upstream_unavailable")));
    }

    [Test]
    public async Task UserKeyMode_SendsTheCallersKey_OnEveryAttempt_AndNeverTheServers()
    {
        _fake.EnqueueFault(Fault.Http(503));

        var (status, body, text, _) = await SendAsync(_client, Chat("hi", extra: ",\"use_user_api_key\":true,\"openai_api_key\":\"sk-user-own-key-1\""));

        Assert.That(status, Is.EqualTo(200), text);
        Assert.That((string?)body!["api_key_source"], Is.EqualTo("user"));
        var calls = ResponsesCalls(_fake);
        Assert.That(calls, Has.Count.EqualTo(2));
        Assert.That(calls.Select(c => c.ApiKey), Is.All.EqualTo("sk-user-own-key-1"));
        Assert.That(calls.SelectMany(c => c.Headers.Values), Has.None.Contains(ServerKey));
        var row = await OneRowAsync();
        Assert.That((row.ApiKeySource, row.CostUsd), Is.EqualTo(("user", (decimal?)null)));
    }

    [Test]
    public async Task RejectedUserKey_Is401InvalidUserApiKey_NotRetried()
    {
        _fake.ValidKeys.Add(ServerKey);

        var (status, body, text, _) = await SendAsync(_client, Chat("hi", extra: ",\"use_user_api_key\":true,\"openai_api_key\":\"sk-wrong-user-key-9\""));

        Assert.That(status, Is.EqualTo(401), text);
        Assert.That(CodeOf(body), Is.EqualTo("invalid_user_api_key"));
        Assert.That(text, Does.Not.Contain("sk-wrong-user-key-9"));
        Assert.That(ResponsesCalls(_fake), Has.Count.EqualTo(1));
        var row = await OneRowAsync();
        Assert.That((row.Status, row.ErrorCode), Is.EqualTo((401, "invalid_user_api_key")));
    }

    [Test]
    public async Task ClientDisconnectMidStream_CancelsTheUpstreamCall_LedgerRow499ClientDisconnected()
    {
        _fake.ChunkDelay = TimeSpan.FromMilliseconds(150);
        _fake.ReplyFactory = (_, _) => string.Join(' ', Enumerable.Range(0, 200).Select(i => $"word{i}"));
        using var cts = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/stream") { Content = Json(Chat("talk a lot")) };
        var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        await using (var events = ReadSseAsync(stream).GetAsyncEnumerator())
        {
            Assert.That(await events.MoveNextAsync(), Is.True);
            Assert.That(events.Current.Event, Is.EqualTo("delta"));
        }

        await cts.CancelAsync();
        response.Dispose();

        Assert.That(await _fake.WaitForAbortAsync(TimeSpan.FromSeconds(10)), Is.True, "the upstream saw the cancel");
        var row = await OneRowAsync();
        Assert.That((row.Status, row.ErrorCode, row.Stream), Is.EqualTo((499, "client_disconnected", true)));
    }
}
