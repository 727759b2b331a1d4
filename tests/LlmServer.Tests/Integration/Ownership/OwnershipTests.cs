using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Integration.Chat;
using static LlmServer.Tests.Integration.Pipeline.PipelineTestKit;

namespace LlmServer.Tests.Integration.Ownership;

/// <summary>
/// Two virtual keys, A and B, on one server: everything A stores (session history, background responses of the
/// session chat API, stored /v1/responses, masked originals) is A's alone. B naming A's ids reaches nothing of A's,
/// on every surface that stores or returns caller data, and is told 404, never that A's data exists.
/// </summary>
[TestFixture]
public sealed class OwnershipTests
{
    private const string Rrn = "900101-1234567";
    private LlmServerHost _host = null!;
    private string _keyA = "";
    private string _keyB = "";

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // NOTE: the server's OpenAI upstream is the fake, so gpt-4o-mini routes on /v1 as well as /api/v1/chat.
        _host = await Builder().WithRealLedger().StartAsync();
        (_keyA, _) = await _host.CreateKeyAsync(new { name = "tenant-a" });
        (_keyB, _) = await _host.CreateKeyAsync(new { name = "tenant-b" });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _host.DisposeAsync();
    }

    [SetUp]
    public void Reset() => _host.Fake.Reset();

    private HttpClient Client(string key) => _host.Client(key);

    private static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static string NewSession() => "unique_session_id-" + Guid.NewGuid().ToString("N")[..6];

    private async Task ChatAsync(HttpClient http, string session, string prompt)
    {
        using var r = await http.PostAsync("/api/v1/chat", Json(new JsonObject { ["session_id"] = session, ["user_prompt"] = prompt }));
        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK), await r.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task SessionHistory_OfAnotherKey_IsNotFound_ForReadAndDelete_AndSurvivesTheAttempt()
    {
        using var a = Client(_keyA);
        using var b = Client(_keyB);
        var session = NewSession();
        await ChatAsync(a, session, $"제 주민번호는 {Rrn} 입니다.");

        using var read = await b.GetAsync($"/api/v1/chat/sessions/{session}");
        using var delete = await b.DeleteAsync($"/api/v1/chat/sessions/{session}");

        Assert.That(read.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await read.Content.ReadAsStringAsync(), Does.Not.Contain(Rrn));
        Assert.That(delete.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var own = JsonNode.Parse(await a.GetStringAsync($"/api/v1/chat/sessions/{session}"))!["messages"]!.AsArray();
        Assert.That(own.Select(m => (string?)m!["content"]), Has.Some.Contains(Rrn), "A's history is intact");
    }

    [Test]
    public async Task SameSessionId_OnTheSessionChatApi_IsASeparateSessionPerKey()
    {
        using var a = Client(_keyA);
        using var b = Client(_keyB);
        var session = NewSession();
        await ChatAsync(a, session, $"제 주민번호는 {Rrn} 입니다.");
        _host.Fake.Reset();

        await ChatAsync(b, session, "내 주민번호가 뭐였지? <<KR_RRN_1>>");

        var upstream = string.Join("\n", ChatTestKit.InputOf(ChatTestKit.ResponsesCalls(_host.Fake)[0]));
        Assert.That(upstream, Does.Not.Contain("주민번호는"), "A's turn is not injected into B's call");
        var bHistory = JsonNode.Parse(await b.GetStringAsync($"/api/v1/chat/sessions/{session}"))!["messages"]!.AsArray();
        Assert.That(bHistory.Select(m => (string?)m!["content"]), Has.None.Contains(Rrn), "B's own session never holds A's number, even echoed back");
        var aHistory = JsonNode.Parse(await a.GetStringAsync($"/api/v1/chat/sessions/{session}"))!["messages"]!.AsArray();
        Assert.That(aHistory, Has.Count.EqualTo(2), "B's turn was stored in B's session, not appended to A's");
    }

    [Test]
    public async Task SameSessionId_OnChatCompletions_NeitherReadsNorAppendsToAnotherKeysSession()
    {
        using var a = Client(_keyA);
        using var b = Client(_keyB);
        var session = NewSession();
        await ChatAsync(a, session, $"제 주민번호는 {Rrn} 입니다.");
        _host.Fake.Reset();

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = Json(new JsonObject
            {
                ["model"] = "gpt-4o-mini",
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "앞에서 말한 번호 <<KR_RRN_1>> 알려줘" }),
            }),
        };
        request.Headers.Add("x-session-id", session);
        using var response = await b.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        Assert.That(text, Does.Not.Contain(Rrn), "B never receives A's masked original");
        var sent = _host.Fake.Requests.Single(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)).Body;
        Assert.That(sent, Does.Not.Contain("주민번호는"), "A's history is not prepended to B's request");
        var aHistory = JsonNode.Parse(await a.GetStringAsync($"/api/v1/chat/sessions/{session}"))!["messages"]!.AsArray();
        Assert.That(aHistory, Has.Count.EqualTo(2), "B's turn did not land in A's session");
    }

    [Test]
    public async Task BackgroundResponse_IsPolledOnlyByTheKeyThatStartedIt()
    {
        using var a = Client(_keyA);
        using var b = Client(_keyB);
        using var started = await a.PostAsync("/api/v1/chat", Json(new JsonObject
        {
            ["session_id"] = NewSession(), ["user_prompt"] = $"주민번호 {Rrn} 확인", ["background"] = true,
        }));
        Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var id = (string)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["response_id"]!;

        using var foreign = await b.GetAsync($"/api/v1/chat/responses/{id}");
        using var unknown = await b.GetAsync("/api/v1/chat/responses/resp_does_not_exist");
        var own = JsonNode.Parse(await a.GetStringAsync($"/api/v1/chat/responses/{id}"))!;

        Assert.That(foreign.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var foreignBody = JsonNode.Parse(await foreign.Content.ReadAsStringAsync())!;
        var unknownBody = JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!;
        Assert.That((string?)foreignBody["error"]!["code"], Is.EqualTo((string?)unknownBody["error"]!["code"]), "another key's id looks exactly like an unknown one");
        Assert.That((string?)own["output_text"], Does.Contain(Rrn), "the owner gets the answer with its values restored");
    }

    [Test]
    public async Task StoredResponse_OnV1Responses_IsRetrievedAndContinuedOnlyByItsOwner()
    {
        using var a = Client(_keyA);
        using var b = Client(_keyB);
        using var created = await a.PostAsync("/v1/responses", Json(new JsonObject { ["model"] = "gpt-4o-mini", ["input"] = $"주민번호 {Rrn}" }));
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.OK), await created.Content.ReadAsStringAsync());
        var id = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        _host.Fake.Reset();

        using var foreignGet = await b.GetAsync($"/v1/responses/{id}");
        using var foreignContinue = await b.PostAsync("/v1/responses", Json(new JsonObject
        {
            ["model"] = "gpt-4o-mini", ["input"] = "continue", ["previous_response_id"] = id,
        }));
        var upstreamCallsByB = _host.Fake.Requests.Count;
        using var ownGet = await a.GetAsync($"/v1/responses/{id}");
        using var ownContinue = await a.PostAsync("/v1/responses", Json(new JsonObject
        {
            ["model"] = "gpt-4o-mini", ["input"] = "continue", ["previous_response_id"] = id,
        }));

        Assert.That(foreignGet.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string?)JsonNode.Parse(await foreignGet.Content.ReadAsStringAsync())!["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That(foreignContinue.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((string?)JsonNode.Parse(await foreignContinue.Content.ReadAsStringAsync())!["error"]!["param"], Is.EqualTo("previous_response_id"));
        Assert.That(upstreamCallsByB, Is.Zero, "nothing of B's reached the upstream with A's response id");
        Assert.That(ownGet.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await ownGet.Content.ReadAsStringAsync(), Does.Contain(Rrn), "the owner's retrieval restores its values");
        Assert.That(ownContinue.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task MasterKey_AndVirtualKey_AreSeparateOwnersToo()
    {
        using var master = Client(Master);
        using var a = Client(_keyA);
        var session = NewSession();
        await ChatAsync(master, session, "운영자 메모");

        using var read = await a.GetAsync($"/api/v1/chat/sessions/{session}");

        Assert.That(read.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await master.GetAsync($"/api/v1/chat/sessions/{session}")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
