using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Integration.Pipeline;

namespace LlmServer.Tests.Integration.BadInput;

/// <summary>
/// Each kind of bad input answers a clear 4xx naming the field, in the route's dialect, on every route it
/// applies to; nothing a client can send produces a 5xx.
/// </summary>
[TestFixture]
public sealed class BadInputTests
{
    private BadInputHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await BadInputHost.StartAsync();
        _http = _host.Client();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Ledger.Clear();
    }

    private static IEnumerable<JsonRoute> Routes() => JsonRoute.All;

    private async Task<string> Expect4xxAsync(JsonRoute route, byte[] body, int status = 400)
    {
        var (got, text, response) = await BadInputHost.PostAsync(_http, route.Path, body);
        response.Dispose();
        Assert.That(got, Is.EqualTo(status), text);
        var message = BadInputHost.ErrorMessage(BadInputHost.DialectOf(route.Path), text);
        Assert.That(message, Is.Not.Null, "not an error body in the route's dialect: " + text);
        Assert.That(message, Does.Not.Contain("System.").And.Not.Contain("`1"), "a .NET type name reached the client");
        Assert.That(_host.Fake.Requests.Where(r => r.Method == "POST"), Is.Empty, "a refused request reached the upstream");
        return message!;
    }

    [TestCaseSource(nameof(Routes))]
    public async Task InvalidUtf8InAString_Is400NamingTheField(JsonRoute route)
    {
        var message = await Expect4xxAsync(route, route.Body([(byte)'"', (byte)'a', 0xFF, 0xFE, (byte)'b', (byte)'"']));
        Assert.That(message, Does.Contain(route.TextField));
    }

    [TestCaseSource(nameof(Routes))]
    public async Task LoneSurrogateEscape_Is400NamingTheField(JsonRoute route)
    {
        var message = await Expect4xxAsync(route, route.Body("\"a\\ud800b\""));
        Assert.That(message, Does.Contain(route.TextField));
    }

    // NOTE: the admin API refuses a field it does not know before reading its value, so depth cannot be reached there.
    private static IEnumerable<JsonRoute> RoutesWithFreeFields() => JsonRoute.All.Where(r => r.Name != "admin_keys");

    [TestCaseSource(nameof(RoutesWithFreeFields))]
    public async Task NestingPastTheSharedDepthLimit_Is400(JsonRoute route)
    {
        var message = await Expect4xxAsync(route, route.Body(extra: ",\"x\":" + JsonRoute.TooDeep));
        Assert.That(message, Does.Contain(Dto.JsonLimits.MaxDepth.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [TestCaseSource(nameof(RoutesWithFreeFields))]
    public async Task NestingAtTheSharedDepthLimit_IsServed(JsonRoute route)
    {
        var atLimit = new string('[', Dto.JsonLimits.MaxDepth - 1) + new string(']', Dto.JsonLimits.MaxDepth - 1);
        var (status, text, response) = await BadInputHost.PostAsync(_http, route.Path, route.Body(extra: ",\"x\":" + atLimit));
        response.Dispose();
        Assert.That(status, Is.EqualTo(200), text);
    }

    [TestCaseSource(nameof(Routes))]
    public async Task DuplicateKey_Is400NamingTheKey(JsonRoute route)
    {
        var message = await Expect4xxAsync(route, route.Body(extra: route.Duplicate));
        Assert.That(message, Does.Contain(route.DuplicateKey));
    }

    [TestCase("/v1/chat/completions", "gpt-4o-mini", "max_tokens")]
    [TestCase("/v1/chat/completions", "gpt-4o-mini", "max_completion_tokens")]
    [TestCase("/v1/completions", "gpt-4o-mini", "max_tokens")]
    [TestCase("/v1/responses", "gpt-4o-mini", "max_output_tokens")]
    [TestCase("/v1/chat/completions", BadInputHost.Claude, "max_tokens")]
    [TestCase("/v1/messages", BadInputHost.Claude, "max_tokens")]
    [TestCase("/v1/messages", BadInputHost.Translated, "max_tokens")]
    public async Task MaxTokensBeyondAnyModel_Is400NamingTheField_ForAKeyWithABudget(string path, string model, string field)
    {
        var (key, _) = await PipelineTestKit.CreateKeyAsync(_http, new { name = "budgeted", budget = new { daily_usd = 5 } });
        using var http = new HttpClient { BaseAddress = _host.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        var body = path == "/v1/completions" ? $$"""{"model":"{{model}}","prompt":"hi","{{field}}":9223372036854775807}"""
            : path == "/v1/responses" ? $$"""{"model":"{{model}}","input":"hi","{{field}}":9223372036854775807}"""
            : $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}],"{{field}}":9223372036854775807}""";
        var (status, text, response) = await BadInputHost.PostAsync(http, path, body);
        response.Dispose();
        Assert.That(status, Is.EqualTo(400), text);
        Assert.That(BadInputHost.ErrorMessage(BadInputHost.DialectOf(path), text), Does.Contain(field));
    }

    private static IEnumerable<TestCaseData> WrongKinds()
    {
        foreach (var model in new[] { BadInputHost.Claude, BadInputHost.Translated })
        {
            foreach (var path in new[] { "/v1/messages", "/v1/messages/count_tokens" })
            {
                yield return new TestCaseData(path, model, "\"system\":[1]", "system.0");
                yield return new TestCaseData(path, model, "\"system\":7", "system");
                yield return new TestCaseData(path, model, "\"tools\":[1]", "tools.0");
                yield return new TestCaseData(path, model, "\"tools\":{}", "tools");
                yield return new TestCaseData(path, model, "\"tool_choice\":\"x\"", "tool_choice");
                yield return new TestCaseData(path, model, "\"metadata\":\"x\"", "metadata");
                yield return new TestCaseData(path, model, "\"stop_sequences\":[1]", "stop_sequences.0");
                yield return new TestCaseData(path, model, "\"messages\":[{\"role\":\"user\",\"content\":[1]}]", "messages.0.content.0");
                yield return new TestCaseData(path, model, "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[1]}]}]", "messages.0.content.0.content.0");
            }
        }
        const string chat = "/v1/chat/completions";
        yield return new TestCaseData(chat, BadInputHost.Claude, "\"messages\":[{\"role\":\"user\",\"content\":[1]}]", "messages[0].content[0]");
        yield return new TestCaseData(chat, BadInputHost.Claude, "\"messages\":[1]", "messages[0]");
        yield return new TestCaseData(chat, BadInputHost.Claude, "\"tools\":[1]", "tools[0]");
        yield return new TestCaseData(chat, BadInputHost.Claude, "\"tools\":[{\"type\":\"function\",\"function\":\"f\"}]", "tools[0].function");
        yield return new TestCaseData(chat, BadInputHost.Claude, "\"tool_choice\":1", "tool_choice");
        yield return new TestCaseData(chat, BadInputHost.Claude, "\"stop\":[1]", "stop[0]");
    }

    [TestCaseSource(nameof(WrongKinds))]
    public async Task ValueOfTheWrongKind_Is400NamingTheFieldAndTheExpectedKind(string path, string model, string member, string field)
    {
        var messages = member.StartsWith("\"messages\"", StringComparison.Ordinal) ? "" : ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        var body = $$"""{"model":"{{model}}","max_tokens":16,{{member}}{{messages}}}""";
        var (status, text, response) = await BadInputHost.PostAsync(_http, path, body);
        response.Dispose();
        Assert.That(status, Is.EqualTo(400), text);
        var message = BadInputHost.ErrorMessage(BadInputHost.DialectOf(path), text);
        Assert.That(message, Does.StartWith(field + ":").And.Contain("expected"), text);
    }

    [TestCase("/api/v1/usage?to=0001-01-01")]
    [TestCase("/api/v1/usage?from=0001-01-01")]
    [TestCase("/api/v1/usage?to=9999-12-31T23:59:59Z")]
    [TestCase("/api/v1/usage?from=garbage")]
    [TestCase("/api/v1/usage/timeseries?to=0001-01-01")]
    [TestCase("/api/v1/usage/timeseries?from=-5")]
    public async Task UsageDateOutsideTheLedgersRange_Is400(string url)
    {
        using var response = await _http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(400), text);
        Assert.That(BadInputHost.ErrorMessage(Dialect.Session, text), Does.Contain("from"));
    }

    [TestCaseSource(nameof(Routes))]
    public async Task NonUtf8Charset_Is415InTheDialect(JsonRoute route)
    {
        var (status, text, response) = await BadInputHost.PostAsync(_http, route.Path, route.Body(), "application/json; charset=utf-16");
        response.Dispose();
        Assert.That(status, Is.EqualTo(415), text);
        Assert.That(BadInputHost.ErrorMessage(BadInputHost.DialectOf(route.Path), text), Does.Contain("UTF-8"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task BodyOverTheSessionApiLimit_Is413InTheSessionShape_WithALedgerRow(bool chunked)
    {
        var body = JsonRoute.All.Single(r => r.Name == "api_chat").Body("\"" + new string('a', 1_100_000) + "\"");
        var (status, text, response) = await BadInputHost.PostAsync(_http, "/api/v1/chat", body, chunked: chunked);
        response.Dispose();
        Assert.That(status, Is.EqualTo(413), text);
        Assert.That(BadInputHost.ErrorMessage(Dialect.Session, text), Is.Not.Null, text);
        var row = await _host.Ledger.WaitForAsync(r => r.Status == 413);
        Assert.That(row.Route, Is.EqualTo("api_chat"));
    }

    [TestCase("/v1/chat/completions", "chat_completions")]
    [TestCase("/v1/messages", "messages_passthrough")]
    public async Task MultiMegabyteBody_IsAcceptedOnTheWireApis(string path, string routeName)
    {
        var body = JsonRoute.All.Single(r => r.Name == routeName).Body("\"" + new string('a', 3 * 1024 * 1024) + "\"");
        var (status, text, response) = await BadInputHost.PostAsync(_http, path, body);
        response.Dispose();
        Assert.That(status, Is.EqualTo(200), text.Length > 300 ? text[..300] : text);
    }

    [TestCase("/v1/chat/completions", "chat_completions", false)]
    [TestCase("/v1/chat/completions", "chat_completions", true)]
    [TestCase("/v1/messages", "messages_passthrough", false)]
    [TestCase("/v1/messages", "messages_passthrough", true)]
    public async Task BodyOverTheWireApiLimit_Is413InTheDialectInEnglish_WithALedgerRow(string path, string routeName, bool chunked)
    {
        var body = JsonRoute.All.Single(r => r.Name == routeName).Body("\"" + new string('a', 33 * 1024 * 1024) + "\"");
        // NOTE: with a declared length the server answers before reading the body; the client waits for that
        // answer (Expect: 100-continue, as curl does for large bodies) instead of pushing 33 MB into a closed socket.
        var (status, text, response) = await BadInputHost.PostAsync(_http, path, body, chunked: chunked, expectContinue: !chunked);
        response.Dispose();
        Assert.That(status, Is.EqualTo(413), text);
        Assert.That(BadInputHost.ErrorMessage(BadInputHost.DialectOf(path), text), Does.Contain("limit").Or.Contain("exceed"));
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.That(path == "/v1/messages" ? (string?)error["type"] : (string?)error["code"], Is.EqualTo(path == "/v1/messages" ? "request_too_large" : "payload_too_large"));
        Assert.That(await _host.Ledger.WaitForAsync(r => r.Status == 413), Is.Not.Null);
    }

    [TestCase("/v1/chat/completions", null, "must be JSON encoded as UTF-8")]
    [TestCase("/v1/messages", null, "must be JSON encoded as UTF-8")]
    [TestCase("/v1/chat/completions", "ko", "UTF-8로")]
    [TestCase("/v1/messages", "ko-KR,ko;q=0.9", "UTF-8로")]
    [TestCase("/api/v1/chat", null, "UTF-8로")]
    [TestCase("/api/v1/chat", "en", "must be JSON encoded as UTF-8")]
    public async Task ErrorLanguage_IsEnglishOnTheWireApisAndKoreanOnTheSessionApi_UnlessAcceptLanguageSaysOtherwise(string path, string? language, string expected)
    {
        var (status, text, response) = await BadInputHost.PostAsync(_http, path, Encoding.UTF8.GetBytes("{}"), "application/json; charset=latin1", language: language);
        response.Dispose();
        Assert.That(status, Is.EqualTo(415), text);
        Assert.That(BadInputHost.ErrorMessage(BadInputHost.DialectOf(path), text), Does.Contain(expected));
    }

    [Test]
    public async Task UnknownModel_Is404ModelNotFound_InOpenAiShape()
    {
        using var response = await _http.GetAsync("/v1/models/no-such-model");
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((int)response.StatusCode, Is.EqualTo(404));
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("model_not_found"));
    }

    [Test]
    public async Task UnknownModel_Is404NotFoundError_InAnthropicShape_ForAnAnthropicClient()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models/no-such-model");
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(404));
        Assert.That(BadInputHost.ErrorMessage(Dialect.Anthropic, text), Is.Not.Null, text);
        Assert.That((string?)JsonNode.Parse(text)!["error"]!["type"], Is.EqualTo("not_found_error"));
    }

    [Test]
    public async Task UnknownModel_IsANotFoundErrorForTheOfficialOpenAiSdk()
    {
        var client = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential(BadInputHost.Master),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(_host.BaseAddress, "v1") });
        int? status = null;
        try
        {
            await client.GetOpenAIModelClient().GetModelAsync("no-such-model");
        }
        catch (System.ClientModel.ClientResultException e)
        {
            status = e.Status;
        }
        Assert.That(status, Is.EqualTo(404), "the SDK returned the error as if it were a model");
    }

    [TestCase("GET", "/v1/no-such-thing", 404, Dialect.OpenAi)]
    [TestCase("POST", "/v1/no-such-thing", 404, Dialect.OpenAi)]
    [TestCase("GET", "/v1/messages/no-such-thing", 404, Dialect.Anthropic)]
    [TestCase("GET", "/api/v1/no-such-thing", 404, Dialect.Session)]
    [TestCase("GET", "/no-such-thing", 404, Dialect.Session)]
    [TestCase("DELETE", "/v1/chat/completions", 405, Dialect.OpenAi)]
    [TestCase("GET", "/v1/embeddings", 405, Dialect.OpenAi)]
    [TestCase("GET", "/v1/messages", 405, Dialect.Anthropic)]
    [TestCase("PUT", "/v1/messages/count_tokens", 405, Dialect.Anthropic)]
    [TestCase("GET", "/api/v1/chat", 405, Dialect.Session)]
    public async Task UnknownPathOrWrongMethod_AnswersInTheDialectOfItsPrefix(string method, string path, int status, Dialect dialect)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(status), text);
        Assert.That(BadInputHost.ErrorMessage(dialect, text), Is.Not.Null, "empty or foreign body: " + text);
        if (status == 405) Assert.That(response.Content.Headers.Allow.Concat(response.Headers.TryGetValues("Allow", out var a) ? a : []), Is.Not.Empty);
    }

    [Test]
    public async Task AdminKeyWithAnUnknownField_Is400NamingIt_AndNoKeyIsCreated()
    {
        var (status, text, response) = await BadInputHost.PostAsync(_http, "/api/v1/admin/keys", """{"name":"team-a","models":["gpt-4o-mini"]}""");
        response.Dispose();
        Assert.That(status, Is.EqualTo(400), text);
        Assert.That(BadInputHost.ErrorMessage(Dialect.Session, text), Does.Contain("models"));
        using var list = await _http.GetAsync("/api/v1/admin/keys");
        Assert.That(await list.Content.ReadAsStringAsync(), Does.Not.Contain("team-a"));
    }

    [Test]
    public async Task WrongValueKindInTheSessionApi_NamesTheFieldAndKindInPlainWords()
    {
        var (status, text, response) = await BadInputHost.PostAsync(_http, "/api/v1/chat", Encoding.UTF8.GetBytes("""{"user_prompt":"hi","temperature":"warm"}"""), language: "en");
        response.Dispose();
        Assert.That(status, Is.EqualTo(400), text);
        var message = BadInputHost.ErrorMessage(Dialect.Session, text);
        Assert.That(message, Does.Contain("temperature").And.Contain("a number").And.Not.Contain("System."));
    }

    private static IEnumerable<TestCaseData> Garbage()
    {
        var faults = new (string Name, Func<Fault> Make)[] { ("malformed", Fault.Malformed), ("cut", () => Fault.Cut(0)) };
        foreach (var (name, make) in faults)
        {
            foreach (var route in JsonRoute.All.Where(r => r.Name is not ("count_tokens" or "admin_keys" or "api_chat_stream")))
            {
                yield return new TestCaseData(route, make).SetArgDisplayNames(route.Name, name);
            }
        }
    }

    [TestCaseSource(nameof(Garbage))]
    public async Task UpstreamAnswering200WithGarbageOrACutBody_Is502InTheDialect(JsonRoute route, Func<Fault> fault)
    {
        _host.Fake.EnqueueFault(fault());
        var (status, text, response) = await BadInputHost.PostAsync(_http, route.Path, route.Body());
        response.Dispose();
        Assert.That(status, Is.EqualTo(502), text);
        Assert.That(BadInputHost.ErrorMessage(BadInputHost.DialectOf(route.Path), text), Is.Not.Null, text);
    }
}
