using System.Net;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>
/// The session chat API as an adapter of the exchange core: which models it sends upstream (the ones the gateway
/// routes, as on /v1), what its ledger row says about the server's own time, how a broken stream ends.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SessionChatExchangeTests
{
    private const string Unknown = "no-such-model-7";

    private LlmServerHost _host = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await LlmServerHostBuilder.Create().WithSessionChat(ServerKey).StartAsync();
        _client = _host.Client(null);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
    }

    [SetUp]
    public async Task ResetAsync()
    {
        await _host.IdleAsync();
        _host.Reset();
    }

    [Test]
    public async Task UnknownModel_Answers404ModelNotFound_InKorean_WithoutCallingTheUpstream()
    {
        var response = await PostAsync(_client, "/api/v1/chat", $$"""{"user_prompt":"hi","model":"{{Unknown}}"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var body = await BodyAsync(response);
        Assert.That((bool?)body["success"], Is.False);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("model_not_found"));
        Assert.That((string?)body["error"]!["message"], Is.EqualTo($"모델 '{Unknown}'이(가) 없습니다. GET /v1/models가 나열하는 모델을 사용하세요."));
        Assert.That((string?)body["trace_id"], Is.Not.Empty);
        Assert.That(ResponsesCalls(_host.Fake), Is.Empty);
        await _host.IdleAsync();
        var row = _host.Usage.Records.Single();
        Assert.That((row.Route, row.Model, row.Status, row.ErrorCode), Is.EqualTo(("api_chat", Unknown, 404, "model_not_found")));
    }

    [Test]
    public async Task UnknownModel_InEnglish_SaysWhereTheModelsAreListed()
    {
        var response = await PostAsync(_client, "/api/v1/chat", $$"""{"user_prompt":"hi","model":"{{Unknown}}"}""", "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string?)(await BodyAsync(response))["error"]!["message"],
            Is.EqualTo($"The model `{Unknown}` does not exist. Use a model listed by GET /v1/models."));
    }

    [TestCase("/api/v1/chat/stream", false)]
    [TestCase("/api/v1/chat", true)]
    public async Task UnknownModel_OnAStream_Answers404BeforeTheStreamStarts(string path, bool streamField)
    {
        var response = await PostAsync(_client, path, $$"""{"user_prompt":"hi","model":"{{Unknown}}","stream":{{(streamField ? "true" : "false")}}}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        Assert.That((string?)(await BodyAsync(response))["error"]!["code"], Is.EqualTo("model_not_found"));
        Assert.That(ResponsesCalls(_host.Fake), Is.Empty);
        await _host.IdleAsync();
        Assert.That(_host.Usage.Records.Select(r => (r.Status, r.ErrorCode, r.Stream)), Is.EqualTo(new[] { (404, (string?)"model_not_found", true) }));
    }

    [Test]
    public async Task ModelTheGatewayRoutes_GoesUpstream()
    {
        var response = await PostAsync(_client, "/api/v1/chat", """{"user_prompt":"hi","model":"gpt-4o"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That((string?)ResponsesCalls(_host.Fake).Single().Json!["model"], Is.EqualTo("gpt-4o"));
    }

    [Test]
    public async Task WithoutAServerKey_TheCallersOwnKey_TakesTheModelAsNamed()
    {
        // NOTE: no server key: the gateway has no OpenAI upstream and so no model table for this one.
        await using var host = await LlmServerHostBuilder.Create().WithSessionChat(serverKey: "").StartAsync();
        using var client = host.Client(null);

        var response = await PostAsync(client, "/api/v1/chat",
            $$"""{"user_prompt":"hi","model":"{{Unknown}}","use_user_api_key":true,"openai_api_key":"sk-caller-own-key"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var call = ResponsesCalls(host.Fake).Single();
        Assert.That((string?)call.Json!["model"], Is.EqualTo(Unknown));
        Assert.That(call.ApiKey, Is.EqualTo("sk-caller-own-key"));
    }

    [Test]
    public async Task LedgerOverhead_IsTheServersOwnTime_TheUpstreamsWaitExcluded()
    {
        var wait = TimeSpan.FromMilliseconds(1500);
        _host.Fake.EnqueueFault(Fault.Slow(wait) with { PathPrefix = "/v1/responses" });

        var response = await PostAsync(_client, "/api/v1/chat", """{"user_prompt":"hi"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var row = await _host.Usage.WaitForAsync(r => r.Route == "api_chat");
        Assert.That(row.OverheadMs, Is.GreaterThan(0), "the server's own time is recorded");
        Assert.That(row.LatencyMs - row.OverheadMs, Is.GreaterThanOrEqualTo(wait.TotalMilliseconds - 500), "the upstream's wait is not overhead");
    }

    [Test]
    public async Task LedgerOverhead_OfAStream_ExcludesTheGapsBetweenItsEvents()
    {
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(100);

        var response = await PostAsync(_client, "/api/v1/chat/stream", """{"user_prompt":"a b c d e f"}""");
        await response.Content.ReadAsStringAsync();

        var row = await _host.Usage.WaitForAsync(r => r.Route == "api_chat");
        Assert.That(row.Status, Is.EqualTo(200));
        Assert.That(row.OverheadMs, Is.GreaterThan(0));
        Assert.That(row.LatencyMs - row.OverheadMs, Is.GreaterThanOrEqualTo(500), "six words stream as at least five delayed events: upstream time");
    }

    [Test]
    public async Task StreamCutMidWay_EndsWithTheSessionErrorBody_AsAnEvent_InReadableKorean()
    {
        _host.Fake.EnqueueFault(Fault.EndEarly(5) with { PathPrefix = "/v1/responses" });

        var response = await PostAsync(_client, "/api/v1/chat/stream", """{"user_prompt":"a b c d"}""");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var last = text.TrimEnd('\n').Split("\n\n")[^1];
        Assert.That(last, Does.StartWith("event: error\ndata: {\"success\":false,\"error\":{\"code\":\"upstream_disconnected\",\"message\":\"답변이 끝나기 전에 업스트림 연결이 끊어졌습니다.\"},\"trace_id\":\""));
        Assert.That(text, Does.Not.Contain("event: done"));
    }
}
