using LlmServer.Services.Ownership;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Chat;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>Hot-path behaviour: passthrough, model rewrite, errors, usage, overhead header, session memory, cancel.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayProxyTests
{
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await GatewayHost.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Usage.Clear();
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task VllmExtraFields_ReachUpstreamByteForByte()
    {
        const string body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"top_k":40,"min_p":0.05,"repetition_penalty":1.1,"guided_json":{"type":"object","properties":{"a":{"type":"string"}}},"x_unknown":[1, 2.50, "\u00e9"],  "temperature":0.2}""";
        using var http = _host.Client();

        var response = await http.PostAsync("v1/chat/completions", Json(body));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(_host.Fake.LastRequest.Body, Is.EqualTo(body));
    }

    [TestCase("v1/chat/completions")]
    [TestCase("v1/chat/completions/")]
    [TestCase("V1/Chat/Completions")]
    public async Task PathSpellings_ReachTheSameEndpoint(string path)
    {
        // NOTE: OpenAI clients differ in case and trailing slashes; routing matches them all to one endpoint.
        const string body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"top_k":3}""";
        using var http = _host.Client();

        var response = await http.PostAsync(path, Json(body));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(_host.Fake.LastRequest.Body, Is.EqualTo(body));
        Assert.That(response.Headers.Contains("x-llmserver-overhead-ms"), Is.True);
        var row = await _host.Usage.WaitForAsync(r => r.Route == "chat_completions");
        Assert.That(row.Status, Is.EqualTo(200));
    }

    [Test]
    public async Task Alias_IsRewrittenToUpstreamModel_AndNothingElseChanges()
    {
        const string body = """{"messages":[{"role":"user","content":"hi"}],"model":"house","top_k":5}""";
        using var http = _host.Client();

        var response = await http.PostAsync("v1/chat/completions", Json(body));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(_host.Fake.LastRequest.Body, Is.EqualTo(body.Replace("\"house\"", "\"fake-vllm-model\"")));
    }

    [Test]
    public async Task MissingModel_UsesDefaultModel()
    {
        using var http = _host.Client();

        var response = await http.PostAsync("v1/chat/completions", Json("""{"messages":[{"role":"user","content":"hi"}]}"""));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((string?)_host.Fake.LastRequest.Json!["model"], Is.EqualTo("gpt-4o-mini"));
    }

    [Test]
    public async Task UnknownModel_Returns404WithOpenAiErrorBody()
    {
        using var http = _host.Client();

        var response = await http.PostAsync("v1/chat/completions", Json("""{"model":"x","messages":[{"role":"user","content":"hi"}]}"""));
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.EqualTo(404));
        Assert.That(text, Is.EqualTo("""{"error":{"message":"The model `x` does not exist. Use a model listed by GET /v1/models.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"""));
        Assert.That(_host.Fake.Requests, Is.Empty);
    }

    [Test]
    public async Task MalformedRequestJson_Returns400_NotA500()
    {
        using var http = _host.Client();

        var response = await http.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[}"""));
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)json["error"]!["type"], Is.EqualTo("invalid_request_error"));
    }

    [Test]
    public async Task OverheadHeader_IsOnSuccessAndOnErrors()
    {
        using var http = _host.Client();
        using var anonymous = _host.Client(withKey: false);

        var ok = await http.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"""));
        var unknown = await http.PostAsync("v1/chat/completions", Json("""{"model":"nope","messages":[]}"""));
        var unauthorized = await anonymous.GetAsync("v1/models");

        foreach (var r in new[] { ok, unknown, unauthorized })
        {
            Assert.That(r.Headers.TryGetValues("x-llmserver-overhead-ms", out var values), Is.True, $"{(int)r.StatusCode} lacks the header");
            Assert.That(double.Parse(values!.Single(), CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(0));
        }
    }

    [Test]
    public async Task Stream_ClientThatDidNotAskForUsage_GetsNoUsageChunk_ButUsageIsRecorded()
    {
        using var http = _host.Client();

        var response = await http.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two"}]}"""));
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(_host.Fake.LastRequest.Json!["stream_options"]!["include_usage"]!.GetValue<bool>(), Is.True, "the gateway asks the upstream for usage");
        Assert.That(text, Does.Not.Contain("\"usage\":{"), "the extra usage chunk reached the client");
        Assert.That(text, Does.EndWith("data: [DONE]\n\n"));
        var row = await _host.Usage.WaitForAsync(r => r.Stream);
        Assert.That(row.InputTokens, Is.GreaterThan(0));
        Assert.That(row.OutputTokens, Is.GreaterThan(0));
    }

    [Test]
    public async Task Stream_ClientWithStreamOptionsButNoIncludeUsage_KeepsItsOtherOptions()
    {
        const string body = """{"model":"gpt-4o-mini","stream":true,"stream_options":{"continuous_usage_stats":false},"messages":[{"role":"user","content":"x"}]}""";
        using var http = _host.Client();

        var response = await http.PostAsync("v1/chat/completions", Json(body));
        await response.Content.ReadAsStringAsync();

        Assert.That(_host.Fake.LastRequest.Body, Is.EqualTo(body.Replace("{\"continuous_usage_stats\"", "{\"include_usage\":true,\"continuous_usage_stats\"")));
    }

    [Test]
    public async Task StreamOverheadHeader_ExcludesSlowUpstream()
    {
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(100);
        using var http = _host.Client();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"a b c d"}]}"""),
        };

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var overhead = double.Parse(response.Headers.GetValues("x-llmserver-overhead-ms").Single(), CultureInfo.InvariantCulture);
        await response.Content.ReadAsStringAsync();

        Assert.That(overhead, Is.LessThan(100), "stream chunk delays are upstream time, not gateway overhead");
    }

    [Test]
    public async Task Usage_IsRecordedWithCostIncludingCachedTokens()
    {
        _host.Fake.CachedTokens = 2;
        using var http = _host.Client();

        await http.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a longer prompt to count"}]}"""));
        var row = await _host.Usage.WaitForAsync(r => r.Route == "chat_completions");

        Assert.That(row.CachedTokens, Is.EqualTo(2));
        Assert.That(row.Upstream, Is.EqualTo("fake"));
        Assert.That(row.Model, Is.EqualTo("gpt-4o-mini"));
        Assert.That(row.KeyId, Is.EqualTo("master"));
        // gpt-4o-mini: 0.15 input, 0.075 cached input, 0.60 output per 1M tokens (appsettings pricing).
        var expected = ((row.InputTokens - 2) * 0.15m + 2 * 0.075m + row.OutputTokens * 0.60m) / 1_000_000m;
        Assert.That(row.CostUsd, Is.EqualTo(decimal.Round(expected, 8)));
    }

    [Test]
    public async Task ClientDisconnectMidStream_CancelsUpstreamRequest()
    {
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(300);
        _host.Fake.ChunkSize = 1;
        using var http = _host.Client();
        using var cts = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"a long answer that streams slowly"}]}"""),
        };
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        var buffer = new byte[256];
        _ = await stream.ReadAsync(buffer, cts.Token);

        response.Dispose();
        cts.Cancel();

        Assert.That(await _host.Fake.WaitForAbortAsync(TimeSpan.FromSeconds(5)), Is.True, "the upstream never saw the cancel");
    }

    [Test]
    public async Task SessionHeader_PrependsHistory_AndStoresTheNewTurn()
    {
        var session = "s-" + Guid.NewGuid().ToString("N")[..8];
        await _host.History.AppendAsync(Owners.Operator, session, [new ChatTurn("user", "My name is Minji.", DateTimeOffset.UtcNow), new ChatTurn("assistant", "Hello Minji!", DateTimeOffset.UtcNow)], CancellationToken.None);
        using var http = _host.Client();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Json("""{"model":"gpt-4o-mini","messages":[{"role":"system","content":"be kind"},{"role":"user","content":"What is my name?"}]}"""),
        };
        request.Headers.Add("x-session-id", session);

        var response = await http.SendAsync(request);

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        var sent = _host.Fake.LastRequest.Json!["messages"]!.AsArray().Select(m => (string?)m!["content"]).ToArray();
        Assert.That(sent, Is.EqualTo(new[] { "be kind", "My name is Minji.", "Hello Minji!", "What is my name?" }));
        var stored = await _host.History.GetAsync(Owners.Operator, session, 10, CancellationToken.None);
        Assert.That(stored.Select(t => (t.Role, t.Content)), Is.EqualTo(new[]
        {
            ("user", "My name is Minji."), ("assistant", "Hello Minji!"), ("user", "What is my name?"), ("assistant", "Echo: What is my name?"),
        }));
    }

    [Test]
    public async Task SessionHeader_OnStream_StoresTurnAfterCompletion()
    {
        var session = "s-" + Guid.NewGuid().ToString("N")[..8];
        using var http = _host.Client();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"remember this"}]}"""),
        };
        request.Headers.Add("x-session-id", session);

        var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(body, Does.EndWith("data: [DONE]\n\n"));
        await _host.Host.IdleAsync();
        var stored = await _host.History.GetAsync(Owners.Operator, session, 10, CancellationToken.None);
        Assert.That(stored.Select(t => t.Content), Is.EqualTo(new[] { "remember this", "Echo: remember this" }));
    }

    [Test]
    public async Task FiveConcurrentRequests_AllSucceed()
    {
        using var http = _host.Client();
        var tasks = Enumerable.Range(0, 5).Select(i =>
            http.PostAsync("v1/chat/completions", Json($$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"n{{i}}"}]}""")));

        var responses = await Task.WhenAll(tasks);

        Assert.That(responses.Select(r => (int)r.StatusCode), Is.All.EqualTo(200));
    }
}

/// <summary>Master key auth on /v1 and /api/v1, in each route's dialect.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayAuthTests
{
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await GatewayHost.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task NoKey_Returns401InOpenAiShape()
    {
        using var http = _host.Client(withKey: false);

        var response = await http.GetAsync("v1/models");
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("invalid_api_key"));
        Assert.That(json["error"]!.AsObject().Select(p => p.Key), Is.EquivalentTo(new[] { "message", "type", "param", "code" }));
    }

    [Test]
    public async Task WrongKey_Returns401_AndNeverEchoesTheKey()
    {
        using var http = _host.Client(withKey: false);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk-wrong-secret-value");

        var response = await http.PostAsync("v1/chat/completions", new StringContent("""{"model":"gpt-4o-mini","messages":[]}""", Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(text, Does.Not.Contain("sk-wrong-secret-value"));
    }

    [Test]
    public async Task BearerKey_And_XApiKey_AreAccepted()
    {
        using var bearer = _host.Client();
        using var xApiKey = _host.Client(withKey: false);
        xApiKey.DefaultRequestHeaders.Add("x-api-key", GatewayHost.MasterKey);

        Assert.That((int)(await bearer.GetAsync("v1/models")).StatusCode, Is.EqualTo(200));
        Assert.That((int)(await xApiKey.GetAsync("v1/models")).StatusCode, Is.EqualTo(200));
    }

    [Test]
    public async Task SessionApi_Returns401InSessionShape()
    {
        using var http = _host.Client(withKey: false);

        var response = await http.PostAsync("api/v1/chat", new StringContent("{}", Encoding.UTF8, "application/json"));
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((bool)json["success"]!, Is.False);
        Assert.That((string?)json["error"]!["code"], Is.Not.Null);
        Assert.That((string?)json["trace_id"], Is.Not.Empty);
    }

    [Test]
    public async Task MessagesApi_Returns401InAnthropicShape()
    {
        using var http = _host.Client(withKey: false);

        var response = await http.PostAsync("v1/messages", new StringContent("{}", Encoding.UTF8, "application/json"));
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((string?)json["type"], Is.EqualTo("error"));
        Assert.That((string?)json["error"]!["type"], Is.EqualTo("authentication_error"));
    }

    [Test]
    public async Task Version_IsOpenWithoutKey()
    {
        using var http = _host.Client(withKey: false);

        var response = await http.GetAsync("version");
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((string?)json["version"], Is.Not.Empty);
    }

    [Test]
    public async Task WithoutMasterKey_ServerRunsOpen()
    {
        await using var open = await GatewayHost.StartAsync(s => s["LlmServer:Auth:MasterKey"] = "");
        using var http = open.Client(withKey: false);

        Assert.That((int)(await http.GetAsync("v1/models")).StatusCode, Is.EqualTo(200));
    }
}
