using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Integration.Chat;
using LlmServer.Tests.Unit.Masking;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static LlmServer.Tests.Integration.Pipeline.PipelineTestKit;

namespace LlmServer.Tests.Integration.Pipeline;

/// <summary>
/// /api/v1/chat with masking, admission and the ledger: the upstream (OpenAI Responses on the fake) sees placeholders
/// only, stored history keeps the originals and is masked again (same placeholders) on the next turn, answers come
/// back restored, plain and streamed.
/// </summary>
[TestFixture]
public sealed class SessionChatMaskingTests
{
    private LlmServerHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await Builder().StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset() => _host.Reset();

    private HttpClient Client(string key = Master) => _host.Client(key);

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private string UpstreamText(int call)
    {
        var request = ChatTestKit.ResponsesCalls(_host.Fake)[call];
        return (string?)request.Json!["instructions"] + "\n" + string.Join("\n", ChatTestKit.InputOf(request));
    }

    [Test]
    public async Task TwoTurns_UpstreamSeesPlaceholdersOnly_HistoryIsReMaskedWithSamePlaceholders_AndStoredRestored()
    {
        using var http = Client();
        var session = "aws-" + Guid.NewGuid().ToString("N")[..6];

        using var first = await http.PostAsync("/api/v1/chat", Json(new JsonObject
        {
            ["session_id"] = session, ["user_prompt"] = MaskingSessionTests.AwsScenario,
            ["system_prompt"] = "담당자 메일 ops-team@example.co.kr 로 보고합니다.",
        }));
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var answer = JsonNode.Parse(await first.Content.ReadAsStringAsync())!;
        Assert.That((string?)answer["output_text"], Is.EqualTo("Echo: " + MaskingSessionTests.AwsScenario));
        Assert.That(first.Headers.GetValues("x-llmserver-masked").Single(), Does.Contain("AWS_EC2=3").And.Contain("EMAIL=1"));

        using var second = await http.PostAsync("/api/v1/chat", Json(new JsonObject
        {
            ["session_id"] = session, ["user_prompt"] = "i-1234567890abcdef0 상태는?",
        }));
        Assert.That((string?)JsonNode.Parse(await second.Content.ReadAsStringAsync())!["output_text"], Is.EqualTo("Echo: i-1234567890abcdef0 상태는?"));

        var upstream1 = UpstreamText(0);
        var upstream2 = UpstreamText(1);
        foreach (var original in MaskingSessionTests.AwsOriginals.Append("ops-team@example.co.kr"))
        {
            Assert.That(upstream1, Does.Not.Contain(original));
            Assert.That(upstream2, Does.Not.Contain(original));
        }
        Assert.That(upstream1, Does.Contain("<<EMAIL_1>>"), "the instructions are masked too");
        Assert.That(upstream2, Does.Contain("user:<<AWS_EC2_1>> 상태는?"), "the same value keeps its placeholder in the session");
        Assert.That(upstream2, Does.Contain("assistant:Echo: "), "the stored answer went upstream as history");
        Assert.That(upstream2.Split("<<AWS_EC2_1>>").Length - 1, Is.EqualTo(5), "history (2 + 2) and the new prompt (1) share one placeholder");

        var history = JsonNode.Parse(await http.GetStringAsync($"/api/v1/chat/sessions/{session}"))!["messages"]!.AsArray();
        Assert.That(history.Select(m => (string?)m!["content"]), Is.EqualTo(new[]
        {
            MaskingSessionTests.AwsScenario, "Echo: " + MaskingSessionTests.AwsScenario,
            "i-1234567890abcdef0 상태는?", "Echo: i-1234567890abcdef0 상태는?",
        }), "history keeps the originals");
    }

    [Test]
    public async Task Background_PollRestoresTheAnswer_StoresTheTurnOnce_AndIsNotFoundForAnotherKey()
    {
        using var http = Client();
        var session = "bg-" + Guid.NewGuid().ToString("N")[..6];
        using var started = await http.PostAsync("/api/v1/chat", Json(new JsonObject
        {
            ["session_id"] = session, ["user_prompt"] = MaskingSessionTests.AwsScenario, ["background"] = true,
        }));
        Assert.That(started.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var id = (string?)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["response_id"];
        foreach (var original in MaskingSessionTests.AwsOriginals)
        {
            Assert.That(UpstreamText(0), Does.Not.Contain(original));
        }

        for (var poll = 0; poll < 2; poll++)
        {
            var polled = JsonNode.Parse(await http.GetStringAsync($"/api/v1/chat/responses/{id}"))!;
            Assert.That((string?)polled["status"], Is.EqualTo("completed"));
            Assert.That((string?)polled["output_text"], Is.EqualTo("Echo: " + MaskingSessionTests.AwsScenario), "restored on every poll");
        }

        var history = JsonNode.Parse(await http.GetStringAsync($"/api/v1/chat/sessions/{session}"))!["messages"]!.AsArray();
        Assert.That(history.Select(m => (string?)m!["content"]), Is.EqualTo(new[]
        {
            MaskingSessionTests.AwsScenario, "Echo: " + MaskingSessionTests.AwsScenario,
        }), "the completed background answer is stored as the session's turn, once");

        var (otherKey, _) = await CreateKeyAsync(http, new { name = "other" });
        using var other = Client(otherKey);
        using var foreign = await other.GetAsync($"/api/v1/chat/responses/{id}");
        Assert.That(foreign.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "another key's response id is unknown to this key");
        Assert.That(await foreign.Content.ReadAsStringAsync(), Does.Not.Contain("i-1234567890abcdef0").And.Not.Contain("AWS_EC2"));
    }

    [Test]
    public async Task Stream_InThreeCharacterChunks_DeltasAndSummaryAreRestored()
    {
        _host.Fake.ChunkSize = 3;
        using var http = Client();
        using var response = await http.PostAsync("/api/v1/chat/stream", Json(new JsonObject { ["user_prompt"] = MaskingSessionTests.AwsScenario }));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var deltas = new StringBuilder();
        JsonNode? done = null;
        await foreach (var (name, data) in ChatTestKit.ReadSseAsync(await response.Content.ReadAsStreamAsync()))
        {
            if (name == "delta") deltas.Append((string?)data["delta"]);
            if (name == "done") done = data;
        }
        Assert.That(deltas.ToString(), Is.EqualTo("Echo: " + MaskingSessionTests.AwsScenario));
        Assert.That((string?)done!["output_text"], Is.EqualTo("Echo: " + MaskingSessionTests.AwsScenario));
        foreach (var original in MaskingSessionTests.AwsOriginals) Assert.That(UpstreamText(0), Does.Not.Contain(original));
    }

    [Test]
    public async Task KeyWithMaskingOff_SendsTheTextUnchanged()
    {
        using var admin = Client();
        var (key, _) = await CreateKeyAsync(admin, new { name = "chat-off", masking_policy = "off" });
        using var http = Client(key);

        using var response = await http.PostAsync("/api/v1/chat", Json(new JsonObject { ["user_prompt"] = MaskingSessionTests.AwsScenario }));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(UpstreamText(0), Does.Contain(MaskingSessionTests.AwsScenario));
        Assert.That(response.Headers.Contains("x-llmserver-masked"), Is.False);
    }

    [Test]
    public async Task KeyWithBlockPolicy_Returns400MaskingBlockedListingTypes()
    {
        using var admin = Client();
        var (key, _) = await CreateKeyAsync(admin, new { name = "chat-block", masking_policy = "block" });
        using var http = Client(key);

        using var response = await http.PostAsync("/api/v1/chat", Json(new JsonObject { ["user_prompt"] = "전화 010-1234-5678입니다" }));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var text = await response.Content.ReadAsStringAsync();
        var error = JsonNode.Parse(text)!;
        Assert.That((string?)error["error"]!["code"], Is.EqualTo("sensitive_data_blocked"));
        Assert.That((string?)error["error"]!["message"], Does.Contain("PHONE"));
        Assert.That(text, Does.Not.Contain("010-1234-5678"));
        Assert.That(ChatTestKit.ResponsesCalls(_host.Fake), Is.Empty);
    }

    [Test]
    public async Task KeyLimits_AnswerInTheSessionDialect()
    {
        using var admin = Client();
        var (narrow, _) = await CreateKeyAsync(admin, new { name = "chat-narrow", allowed_models = new[] { "gpt-4o" } });
        var (slow, _) = await CreateKeyAsync(admin, new { name = "chat-slow", rpm = 1 });
        var (poor, _) = await CreateKeyAsync(admin, new { name = "chat-poor", budget = new { total_usd = 0.00001 } });

        using var forbidden = await Client(narrow).PostAsync("/api/v1/chat", Json(new JsonObject { ["user_prompt"] = "hi", ["model"] = "gpt-4o-mini" }));
        using var ok = await Client(slow).PostAsync("/api/v1/chat", Json(new JsonObject { ["user_prompt"] = "hi" }));
        using var limited = await Client(slow).PostAsync("/api/v1/chat", Json(new JsonObject { ["user_prompt"] = "hi" }));
        using var broke = await Client(poor).PostAsync("/api/v1/chat", Json(new JsonObject { ["user_prompt"] = "hi", ["max_tokens"] = 1000 }));

        Assert.That(forbidden.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((string?)JsonNode.Parse(await forbidden.Content.ReadAsStringAsync())!["error"]!["code"], Is.EqualTo("model_not_allowed"));
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(limited.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(limited.Headers.RetryAfter, Is.Not.Null);
        var limitedBody = JsonNode.Parse(await limited.Content.ReadAsStringAsync())!;
        Assert.That((bool?)limitedBody["success"], Is.False);
        Assert.That((string?)limitedBody["error"]!["code"], Is.EqualTo("rate_limit_exceeded"));
        Assert.That(limitedBody["trace_id"], Is.Not.Null);
        Assert.That(broke.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(broke.Headers.RetryAfter, Is.Null, "a total budget never resets: waiting does not help");
        Assert.That((string?)JsonNode.Parse(await broke.Content.ReadAsStringAsync())!["error"]!["code"], Is.EqualTo("budget_exceeded"));
        Assert.That(ChatTestKit.ResponsesCalls(_host.Fake), Has.Count.EqualTo(1), "only the admitted request went upstream");
    }

    [Test]
    public async Task EachRequest_LeavesOneLedgerRow_WithKeySessionMaskedCountsAndServerCost()
    {
        using var admin = Client();
        var (key, id) = await CreateKeyAsync(admin, new { name = "chat-ledger" });
        using var http = Client(key);

        using var response = await http.PostAsync("/api/v1/chat", Json(new JsonObject
        {
            ["session_id"] = "ledger-s", ["user_prompt"] = MaskingSessionTests.AwsScenario, ["model"] = "gpt-4o-mini",
        }));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var row = (await RowsAsync(_host, 1)).Single();
        Assert.That((row.Route, row.KeyId, row.SessionId, row.Status, row.Model, row.ApiKeySource), Is.EqualTo(("api_chat", id, "ledger-s", 200, "gpt-4o-mini", "server")));
        Assert.That(row.MaskedCounts!["AWS_EC2"], Is.EqualTo(3));
        Assert.That(row.CostUsd, Is.GreaterThan(0m));
        Assert.That(row.InputTokens, Is.GreaterThan(0));
    }

    [Test]
    public async Task EveryComposedText_SystemRoleMemoryInstructionsAndClientHistory_ReachesUpstreamMasked()
    {
        using var http = Client();
        var leaky = ToolDefinitionMaskingTests.Leaky;

        using var response = await http.PostAsync("/api/v1/chat", Json(new JsonObject
        {
            ["user_prompt"] = "prompt: " + leaky,
            ["system_prompt"] = "system: " + leaky,
            ["role"] = "role: " + leaky,
            ["memory_context"] = new JsonArray("memory: " + leaky),
            ["instructions"] = "instructions: " + leaky,
            ["conversation_history"] = new JsonArray("history: " + leaky, new JsonObject { ["role"] = "assistant", ["content"] = "answer: " + leaky }),
        }));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var upstream = UpstreamText(0);
        foreach (var original in ToolDefinitionMaskingTests.Originals)
        {
            Assert.That(upstream, Does.Not.Contain(original));
        }
        foreach (var part in new[] { "system: ", "role: ", "memory: ", "instructions: ", "history: ", "answer: ", "prompt: " })
        {
            Assert.That(upstream, Does.Contain(part + "Uses key <<AWS_ACCESS_KEY_1>>, owner RRN <<KR_RRN_1>>, call <<PHONE_1>>"), part);
        }
        Assert.That((string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["output_text"], Is.EqualTo("Echo: prompt: " + leaky));
    }
}
