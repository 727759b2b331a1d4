using System.Net;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>POST /api/v1/chat end to end: the real server, the fake upstream on loopback, the official SDK in between.</summary>
[TestFixture]
public sealed class SessionChatApiTests : SessionChatFixture
{
    [Test]
    public async Task SeedReadmeRequest_WorksVerbatim()
    {
        var response = await PostAsync(Http, "/api/v1/chat",
            """{"request_id":"unique_session_id","user_prompt":"Python의 특징을 설명해주세요.","system_prompt":"당신은 친절한 프로그래밍 튜터입니다.","max_tokens":1000,"temperature":0.7,"model":"gpt-4o-mini"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var body = await BodyAsync(response);
        Assert.That((string?)body["output_text"], Is.EqualTo("Echo: Python의 특징을 설명해주세요."));
        Assert.That((string?)body["session_id"], Is.EqualTo("unique_session_id"));
        Assert.That((string?)body["api_key_source"], Is.EqualTo("server"));
        Assert.That((bool?)body["success"], Is.True);
        var input = (long)body["input_tokens"]!;
        var output = (long)body["output_tokens"]!;
        Assert.That((long)body["total_tokens"]!, Is.EqualTo(input + output));
        Assert.That((decimal)body["cost_usd"]!, Is.EqualTo(decimal.Round((input * 0.15m + output * 0.60m) / 1_000_000m, 8)));

        var call = ResponsesCalls(Fake).Single();
        Assert.That(call.ApiKey, Is.EqualTo(ServerKey));
        Assert.That((string?)call.Json!["model"], Is.EqualTo("gpt-4o-mini"));
        Assert.That((string?)call.Json["instructions"], Is.EqualTo("당신은 친절한 프로그래밍 튜터입니다."));
        Assert.That((int?)call.Json["max_output_tokens"], Is.EqualTo(1000));
        Assert.That((double?)call.Json["temperature"], Is.EqualTo(0.7).Within(1e-6));
        Assert.That(InputOf(call), Is.EqualTo(new[] { "user:Python의 특징을 설명해주세요." }));
    }

    [Test]
    public async Task ComposedInstructionsAndClientHistory_ReachUpstreamInOrder()
    {
        var response = await PostAsync(Http, "/api/v1/chat", """
            {"user_message":"Now?","system_message":"You are a tutor.","role":"Python teacher",
             "memory_context":["likes examples"],"instructions":"Answer briefly.",
             "conversation_history":["What is Python?",{"role":"assistant","content":"A language."}]}
            """, language: "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var call = ResponsesCalls(Fake).Single();
        Assert.That((string?)call.Json!["instructions"], Is.EqualTo(
            "You are a tutor.\n\nRole: Python teacher\n\nMemory:\n- likes examples\n\nInstructions: Answer briefly."));
        Assert.That(InputOf(call), Is.EqualTo(new[] { "user:What is Python?", "assistant:A language.", "user:Now?" }));
        Assert.That((string?)(await BodyAsync(response))["instructions"], Does.StartWith("You are a tutor."));
    }

    [Test]
    public async Task Session_IsRememberedAcrossRequests_ThenDeleted()
    {
        var session = "s-" + Guid.NewGuid().ToString("N");
        await PostAsync(Http, "/api/v1/chat", $$"""{"session_id":"{{session}}","user_prompt":"first"}""");
        var second = await PostAsync(Http, "/api/v1/chat", $$"""{"session_id":"{{session}}","user_prompt":"second"}""");

        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(InputOf(ResponsesCalls(Fake).Last()), Is.EqualTo(new[] { "user:first", "assistant:Echo: first", "user:second" }));

        var history = await BodyAsync(await Http.GetAsync($"/api/v1/chat/sessions/{session}"));
        Assert.That(history["messages"]!.AsArray().Select(m => $"{(string?)m!["role"]}:{(string?)m["content"]}"),
            Is.EqualTo(new[] { "user:first", "assistant:Echo: first", "user:second", "assistant:Echo: second" }));

        var deleted = await Http.DeleteAsync($"/api/v1/chat/sessions/{session}");
        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var gone = await Http.GetAsync($"/api/v1/chat/sessions/{session}");
        Assert.That(gone.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string?)(await BodyAsync(gone))["error"]!["code"], Is.EqualTo("session_not_found"));

        await PostAsync(Http, "/api/v1/chat", $$"""{"session_id":"{{session}}","user_prompt":"third"}""");
        Assert.That(InputOf(ResponsesCalls(Fake).Last()), Is.EqualTo(new[] { "user:third" }));
    }

    [Test]
    public async Task UserKey_IsSentUpstream_AndReportedAsUser()
    {
        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"안녕하세요!","openai_api_key":"sk-user-own-key","use_user_api_key":true}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((string?)(await BodyAsync(response))["api_key_source"], Is.EqualTo("user"));
        Assert.That(ResponsesCalls(Fake).Single().ApiKey, Is.EqualTo("sk-user-own-key"));
    }

    [Test]
    public async Task DifferentUserKeysAndServerKey_ShareOnePooledConnection()
    {
        await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"a","openai_api_key":"sk-user-one","use_user_api_key":true}""");
        await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"b","openai_api_key":"sk-user-two","use_user_api_key":true}""");
        await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"c"}""");

        var calls = ResponsesCalls(Fake);
        Assert.That(calls.Select(c => c.ApiKey), Is.EqualTo(new[] { "sk-user-one", "sk-user-two", ServerKey }));
        Assert.That(calls.Select(c => c.RemotePort).Distinct().Count(), Is.EqualTo(1), "one HTTP transport: the connection is reused");
    }

    [Test]
    public async Task FreeModeWithoutUserKey_UsesServerKey()
    {
        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi","free_mode":true}""");

        Assert.That((string?)(await BodyAsync(response))["api_key_source"], Is.EqualTo("server"));
        Assert.That(ResponsesCalls(Fake).Single().ApiKey, Is.EqualTo(ServerKey));
    }

    [Test]
    public async Task UseUserApiKeyWithoutKey_Is400()
    {
        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi","use_user_api_key":true}""", language: "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = await BodyAsync(response);
        Assert.That((bool?)body["success"], Is.False);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("user_api_key_required"));
        Assert.That((string?)body["trace_id"], Is.Not.Empty);
        Assert.That(ResponsesCalls(Fake), Is.Empty);
    }

    [Test]
    public async Task WebSearch_AddsTheWebSearchTool()
    {
        await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"news today","web_search":true}""");

        var tools = ResponsesCalls(Fake).Single().Json!["tools"]!.AsArray();
        Assert.That(tools.Select(t => (string?)t!["type"]), Is.EqualTo(new[] { "web_search" }));
    }

    [Test]
    public async Task NoWebSearch_SendsNoTools()
    {
        await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi"}""");

        Assert.That(ResponsesCalls(Fake).Single().Json!["tools"] is null or JsonArray { Count: 0 });
    }

    [Test]
    public async Task Background_ReturnsId_ThenPollReturnsTheAnswer()
    {
        var started = await BodyAsync(await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"long job","background":true}"""));

        Assert.That((string?)started["status"], Is.EqualTo("queued"));
        var id = (string?)started["response_id"];
        Assert.That(id, Does.StartWith("resp_"));
        Assert.That((bool?)ResponsesCalls(Fake).Single().Json!["background"], Is.True);

        var polled = await Http.GetAsync($"/api/v1/chat/responses/{id}");
        Assert.That(polled.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await BodyAsync(polled);
        Assert.That((string?)body["status"], Is.EqualTo("completed"));
        Assert.That((string?)body["output_text"], Is.EqualTo("Echo: long job"));
        Assert.That(Fake.Requests.Last().Path, Is.EqualTo($"/v1/responses/{id}"));
    }

    [Test]
    public async Task PollUnknownResponse_Is404()
    {
        var polled = await Http.GetAsync("/api/v1/chat/responses/resp_doesnotexist");

        Assert.That(polled.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [TestCase("en", "You are a helpful AI assistant.")]
    [TestCase("ko", "당신은 도움이 되는 AI 어시스턴트입니다.")]
    [TestCase(null, "당신은 도움이 되는 AI 어시스턴트입니다.")]
    public async Task DefaultSystemMessage_FollowsAcceptLanguage(string? language, string expected)
    {
        await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi"}""", language);

        Assert.That((string?)ResponsesCalls(Fake).Single().Json!["instructions"], Is.EqualTo(expected));
    }

    [Test]
    public async Task ValidationMessages_FollowAcceptLanguage()
    {
        var en = await BodyAsync(await PostAsync(Http, "/api/v1/chat", """{"user_prompt":""}""", "en-US"));
        var ko = await BodyAsync(await PostAsync(Http, "/api/v1/chat", """{"user_prompt":""}""", "ko-KR"));

        Assert.That((string?)en["error"]!["code"], Is.EqualTo("user_prompt_required"));
        Assert.That((string?)en["error"]!["message"], Does.Contain("required"));
        Assert.That((string?)ko["error"]!["message"], Does.Contain("필수"));
    }

    [TestCase("""{"user_prompt":"hi","temperature":2.5}""", "temperature_range")]
    [TestCase("""{"user_prompt":"hi","max_tokens":0}""", "max_tokens_range")]
    [TestCase("""{"system_prompt":"only"}""", "user_prompt_required")]
    [TestCase("""{"user_prompt":"hi","conversation_history":[{"role":"robot","content":"x"}]}""", "history_role_invalid")]
    public async Task InvalidFields_Are400WithCode(string json, string code)
    {
        var response = await PostAsync(Http, "/api/v1/chat", json);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((string?)(await BodyAsync(response))["error"]!["code"], Is.EqualTo(code));
    }

    [Test]
    public async Task SeveralInvalidFields_Are400ValidationErrorNamingEach()
    {
        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi","temperature":3,"max_tokens":0}""", "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = await BodyAsync(response);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("validation_error"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("temperature must be between 0 and 2.").And.Contain("max_tokens must be between 1 and 1000000."));
        Assert.That(ResponsesCalls(Fake), Is.Empty);
    }

    [TestCase("""{"user_prompt":"hi",""", "byte 20")]
    [TestCase("""{"user_prompt":"hi","temperature":"hot"}""", "temperature")]
    [TestCase("""{"user_prompt":"hi","conversation_history":[42]}""", "conversation_history")]
    [TestCase("""not json at all""", "invalid")]
    public async Task MalformedJson_Is400SayingWhatIsWrong(string json, string mentions)
    {
        var response = await PostAsync(Http, "/api/v1/chat", json, "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = await BodyAsync(response);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("invalid_json"));
        Assert.That((string?)body["error"]!["message"], Does.Contain(mentions));
        Assert.That(ResponsesCalls(Fake), Is.Empty);
    }

    [TestCase("""{"user_prompt":"hi","conversation_history":[null]}""")]
    [TestCase("""{"user_prompt":"hi","memory_context":[null,""]}""")]
    [TestCase("""{"user_prompt":"hi","conversation_history":null,"memory_context":null,"model":"","session_id":""}""")]
    [TestCase("""{"user_prompt":"hi","max_tokens":99999999999}""")]
    [TestCase("""{"user_prompt":"hi","temperature":1e400}""")]
    [TestCase("""[]""")]
    [TestCase("""null""")]
    [TestCase("")]
    [TestCase("""{"user_prompt":{"nested":true}}""")]
    [TestCase("""{"user_prompt":"hi","stream":"yes"}""")]
    public async Task OddClientInput_IsNeverA500(string json)
    {
        var response = await PostAsync(Http, "/api/v1/chat", json);

        Assert.That((int)response.StatusCode, Is.LessThan(500), await response.Content.ReadAsStringAsync());
        if (!response.IsSuccessStatusCode)
        {
            Assert.That((bool?)(await BodyAsync(response))["success"], Is.False);
        }
    }

    [Test]
    public async Task WrongContentType_Is415InSessionShape()
    {
        var response = await Http.PostAsync("/api/v1/chat", new StringContent("hi"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        var body = await BodyAsync(response);
        Assert.That((bool?)body["success"], Is.False);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("unsupported_media_type"));
    }

    [Test]
    public async Task BodyOverOneMegabyte_Is413()
    {
        var big = new string('x', 1024 * 1024 + 10);
        var response = await PostAsync(Http, "/api/v1/chat", $$"""{"user_prompt":"{{big}}"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((string?)(await BodyAsync(response))["error"]!["code"], Is.EqualTo("payload_too_large"));
    }
}
