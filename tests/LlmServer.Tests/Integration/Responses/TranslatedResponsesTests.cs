using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Integration.Gateway;
using OpenAI.Responses;

namespace LlmServer.Tests.Integration.Responses;

/// <summary>
/// /v1/responses on upstreams that cannot serve it, answered by translation: "claude" (anthropic, through
/// Messages) and "local" (openai_compatible with ResponsesApi translate, through chat completions), both on the
/// fake upstream. The official OpenAI SDK and raw HTTP see OpenAI's Responses API; the gateway keeps the
/// conversation for previous_response_id and retrieval, per owner. Masking is on (the default policy).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TranslatedResponsesTests
{
    private const string Claude = "claude-haiku-4-5";
    private const string Local = "local-model";
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var fake = await FakeUpstreamServer.StartAsync();
        _host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Gateway:Upstreams:1:Name"] = "claude";
            s["LlmServer:Gateway:Upstreams:1:Kind"] = "anthropic";
            s["LlmServer:Gateway:Upstreams:1:BaseUrl"] = fake.BaseUrl;
            s["LlmServer:Gateway:Upstreams:1:ApiKey"] = "sk-ant-upstream";
            s["LlmServer:Gateway:Upstreams:1:Models:0"] = Claude;
            s["LlmServer:Gateway:Upstreams:2:Name"] = "local";
            s["LlmServer:Gateway:Upstreams:2:Kind"] = "openai_compatible";
            s["LlmServer:Gateway:Upstreams:2:BaseUrl"] = fake.V1Url;
            s["LlmServer:Gateway:Upstreams:2:Models:0"] = Local;
            s["LlmServer:Gateway:Upstreams:2:ResponsesApi"] = "translate";
        }, fake);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Usage.Clear();
    }

    private static string PathOf(string model) => model == Claude ? "/v1/messages" : "/v1/chat/completions";

#pragma warning disable OPENAI001 // Responses API is marked experimental in the SDK
    private ResponsesClient Sdk => new(new ApiKeyCredential(GatewayHost.MasterKey), new ResponsesClientOptions { Endpoint = _host.V1 });

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task Plain_SdkGetsAResponseObject_FromAnUpstreamWithoutResponses(string model)
    {
        ResponseResult created = await Sdk.CreateResponseAsync(model, "What is 2+2?", null);

        Assert.That(_host.Fake.LastRequest.Path, Is.EqualTo(PathOf(model)));
        Assert.That(created.Id, Does.StartWith("resp_"));
        Assert.That(created.Status, Is.EqualTo(ResponseStatus.Completed));
        Assert.That(created.GetOutputText(), Is.EqualTo("Echo: What is 2+2?"));
        Assert.That(created.Usage.InputTokenCount, Is.GreaterThan(0));
        Assert.That(created.Usage.OutputTokenCount, Is.GreaterThan(0));
        var row = await _host.Usage.WaitForAsync(r => r.Route == "responses");
        Assert.That(row.Upstream, Is.EqualTo(model == Claude ? "claude" : "local"));
        Assert.That(row.Status, Is.EqualTo(200));
        Assert.That(row.OutputTokens, Is.EqualTo(created.Usage.OutputTokenCount));
        Assert.That(_host.Usage.Records, Has.Count.EqualTo(1));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task Streamed_SdkAccumulatesTextAndCompletes_AndTheLedgerHasTokens(string model)
    {
        _host.Fake.ChunkSize = 3;
        var text = new StringBuilder();
        ResponseResult? completed = null;
        await foreach (var update in await Sdk.CreateResponseStreamingAsync(model, "stream me please", null))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text.Append(delta.Delta);
            if (update is StreamingResponseCompletedUpdate done) completed = done.Response;
        }

        Assert.That(text.ToString(), Is.EqualTo("Echo: stream me please"));
        Assert.That(completed, Is.Not.Null);
        Assert.That(completed!.GetOutputText(), Is.EqualTo("Echo: stream me please"));
        Assert.That(completed.Usage.OutputTokenCount, Is.GreaterThan(0));
        var row = await _host.Usage.WaitForAsync(r => r.Route == "responses" && r.Stream);
        Assert.That(row.OutputTokens, Is.EqualTo(completed.Usage.OutputTokenCount));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task Streamed_EventsComeInOpenAisOrder_WithConsecutiveSequenceNumbers(string model)
    {
        using var http = _host.Client();
        using var response = await http.PostAsync("v1/responses", Body(new JsonObject { ["model"] = model, ["input"] = "hi there", ["stream"] = true }));
        var events = ParseEvents(await response.Content.ReadAsStringAsync());

        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var types = events.Select(e => (string)e["type"]!).Where(t => t != "response.output_text.delta").ToArray();
        Assert.That(types, Is.EqualTo(new[]
        {
            "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
        }));
        Assert.That(events.Select(e => (int)e["sequence_number"]!), Is.EqualTo(Enumerable.Range(0, events.Count)));
        var created = events[0]["response"]!;
        var final = events[^1]["response"]!;
        Assert.That((string?)created["status"], Is.EqualTo("in_progress"));
        Assert.That((string?)final["id"], Is.EqualTo((string?)created["id"]));
        Assert.That((string?)final["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Echo: hi there"));
        Assert.That((string?)events.First(e => (string?)e["type"] == "response.output_text.done")["text"], Is.EqualTo("Echo: hi there"));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task ToolRoundTrip_FunctionCallThenItsOutputOnPreviousResponseId_ReachesTheUpstreamAsOneConversation(string model)
    {
        _host.Fake.ToolCalls.Add(new ScriptedToolCall("get_weather", """{"city":"Seoul"}"""));
        using var http = _host.Client();
        var tools = new JsonArray(new JsonObject
        {
            ["type"] = "function", ["name"] = "get_weather", ["description"] = "Weather of a city",
            ["parameters"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["city"] = new JsonObject { ["type"] = "string" } } },
        });

        var first = await PostAsync(http, new JsonObject { ["model"] = model, ["input"] = "weather in Seoul?", ["tools"] = tools.DeepClone() });
        var call = first["output"]!.AsArray().Single(i => (string?)i!["type"] == "function_call")!;
        var second = await PostAsync(http, new JsonObject
        {
            ["model"] = model, ["previous_response_id"] = (string)first["id"]!, ["tools"] = tools.DeepClone(),
            ["input"] = new JsonArray(new JsonObject { ["type"] = "function_call_output", ["call_id"] = (string)call["call_id"]!, ["output"] = "sunny, 21C" }),
        });

        Assert.That((string?)call["name"], Is.EqualTo("get_weather"));
        Assert.That(JsonNode.Parse((string)call["arguments"]!)!["city"]!.GetValue<string>(), Is.EqualTo("Seoul"));
        Assert.That((string?)second["previous_response_id"], Is.EqualTo((string?)first["id"]));
        Assert.That((string?)second["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Echo: sunny, 21C"));
        var upstream = _host.Fake.LastRequest.Body;
        Assert.That(upstream, Does.Contain("weather in Seoul?"), "the first turn's input was sent again");
        Assert.That(upstream, Does.Contain((string)call["call_id"]!), "the call and its output are paired upstream");
        Assert.That(upstream, Does.Contain("sunny, 21C"));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task PreviousResponseId_AcrossTwoTurns_SendsTheWholeConversation_AndTheSdkRetrievesBoth(string model)
    {
        ResponseResult first = await Sdk.CreateResponseAsync(model, "my name is Minji", null);
        var options = new CreateResponseOptions { Model = model, PreviousResponseId = first.Id };
        options.InputItems.Add(ResponseItem.CreateUserMessageItem("what is my name?"));
        ResponseResult second = await Sdk.CreateResponseAsync(options);
        ResponseResult fetched = await Sdk.GetResponseAsync(second.Id);

        var messages = _host.Fake.LastRequest.Json!["messages"]!.AsArray();
        Assert.That(string.Join("|", messages.Select(Text)), Is.EqualTo("my name is Minji|Echo: my name is Minji|what is my name?"));
        Assert.That(second.GetOutputText(), Is.EqualTo("Echo: what is my name?"));
        Assert.That(fetched.Id, Is.EqualTo(second.Id));
        Assert.That(fetched.GetOutputText(), Is.EqualTo("Echo: what is my name?"));
        Assert.That(_host.Fake.LastRequest.Path, Is.EqualTo(PathOf(model)), "retrieval was answered by the gateway, not the upstream");
    }
#pragma warning restore OPENAI001

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task StoreFalse_KeepsNothing_SoRetrievalIs404AndContinuationIs400(string model)
    {
        using var http = _host.Client();
        var created = await PostAsync(http, new JsonObject { ["model"] = model, ["input"] = "forget me", ["store"] = false });
        var id = (string)created["id"]!;

        using var get = await http.GetAsync($"v1/responses/{id}");
        using var next = await http.PostAsync("v1/responses", Body(new JsonObject { ["model"] = model, ["input"] = "again", ["previous_response_id"] = id }));

        Assert.That((bool?)created["store"], Is.False);
        Assert.That(get.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((string?)JsonNode.Parse(await next.Content.ReadAsStringAsync())!["error"]!["code"], Is.EqualTo("previous_response_not_found"));
    }

    [Test]
    public async Task AnotherOwner_CannotRetrieveOrContinue_AndNothingOfTheirsReachesTheUpstream()
    {
        using var admin = _host.Client();
        using var a = await KeyClientAsync(admin, "responses-a");
        using var b = await KeyClientAsync(admin, "responses-b");
        var created = await PostAsync(a, new JsonObject { ["model"] = Local, ["input"] = "a secret plan" });
        var id = (string)created["id"]!;
        _host.Fake.Reset();

        using var foreignGet = await b.GetAsync($"v1/responses/{id}");
        using var foreignNext = await b.PostAsync("v1/responses", Body(new JsonObject { ["model"] = Local, ["input"] = "go on", ["previous_response_id"] = id }));
        var upstreamCallsByB = _host.Fake.Requests.Count;
        using var ownGet = await a.GetAsync($"v1/responses/{id}");

        Assert.That(foreignGet.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(foreignNext.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = JsonNode.Parse(await foreignNext.Content.ReadAsStringAsync())!["error"]!;
        Assert.That((string?)error["code"], Is.EqualTo("previous_response_not_found"));
        Assert.That((string?)error["param"], Is.EqualTo("previous_response_id"));
        Assert.That(upstreamCallsByB, Is.Zero);
        Assert.That(ownGet.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await ownGet.Content.ReadAsStringAsync(), Does.Contain("Echo: a secret plan"));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task MaskedValues_NeverReachTheUpstream_OnEitherTurn_AndTheClientAndRetrievalSeeThemRestored(string model)
    {
        using var http = _host.Client();
        var first = await PostAsync(http, new JsonObject { ["model"] = model, ["input"] = GatewayMaskingTests.AwsScenario });
        GatewayMaskingTests.AssertNoOriginals(_host.Fake.LastRequest.Body);
        var second = await PostAsync(http, new JsonObject { ["model"] = model, ["input"] = "and then?", ["previous_response_id"] = (string)first["id"]! });
        using var fetched = await http.GetAsync($"v1/responses/{(string)first["id"]!}");

        GatewayMaskingTests.AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That((string?)first["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Echo: " + GatewayMaskingTests.AwsScenario));
        Assert.That((string?)second["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Echo: and then?"));
        Assert.That(await fetched.Content.ReadAsStringAsync(), Does.Contain("AKIAIOSFODNN7EXAMPLE"));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task Streamed_MaskedValuesSplitAcrossChunks_AreRestored_AndTheStoredResponseIsRetrievableRightAfter(string model)
    {
        _host.Fake.ChunkSize = 3;
        using var http = _host.Client();
        using var response = await http.PostAsync("v1/responses", Body(new JsonObject { ["model"] = model, ["input"] = GatewayMaskingTests.AwsScenario, ["stream"] = true }));
        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        var final = events[^1]["response"]!;
        using var fetched = await http.GetAsync($"v1/responses/{(string)final["id"]!}");

        GatewayMaskingTests.AssertNoOriginals(_host.Fake.LastRequest.Body);
        var deltas = string.Concat(events.Where(e => (string?)e["type"] == "response.output_text.delta").Select(e => (string?)e["delta"]));
        Assert.That(deltas, Is.EqualTo("Echo: " + GatewayMaskingTests.AwsScenario));
        Assert.That((string?)final["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Echo: " + GatewayMaskingTests.AwsScenario));
        Assert.That(fetched.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((string?)JsonNode.Parse(await fetched.Content.ReadAsStringAsync())!["output"]![0]!["content"]![0]!["text"],
            Is.EqualTo("Echo: " + GatewayMaskingTests.AwsScenario));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task Streamed_UpstreamCutMidStream_EndsWithAnErrorEvent_NotACompletion_AndIsNotStored(string model)
    {
        // NOTE: a delay lets the headers and first chunks reach the gateway before the reset (Linux drops unread data on RST).
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(100);
        _host.Fake.EnqueueFault(Fault.Cut(afterChunks: 2));
        using var http = _host.Client();
        using var response = await http.PostAsync("v1/responses", Body(new JsonObject { ["model"] = model, ["input"] = "a long enough answer", ["stream"] = true }));
        var events = ParseEvents(await response.Content.ReadAsStringAsync());
        var id = (string)events[0]["response"]!["id"]!;
        using var fetched = await http.GetAsync($"v1/responses/{id}");

        Assert.That((string?)events[0]["type"], Is.EqualTo("response.created"));
        Assert.That((string?)events[^1]["type"], Is.EqualTo("error"));
        Assert.That(events.Any(e => (string?)e["type"] == "response.completed"), Is.False);
        Assert.That(fetched.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var row = await _host.Usage.WaitForAsync(r => r.Route == "responses");
        Assert.That(row.Status, Is.EqualTo(502));
    }

    [TestCase(Claude)]
    [TestCase(Local)]
    public async Task UpstreamFailure_IsAnOpenAiErrorBody_NotAResponseObject(string model)
    {
        _host.Fake.EnqueueFault(Fault.Http(500), 3);
        using var http = _host.Client();
        using var response = await http.PostAsync("v1/responses", Body(new JsonObject { ["model"] = model, ["input"] = "hi" }));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(502));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("server_error"));
        Assert.That(body["object"], Is.Null);
    }

    [Test]
    public async Task UnsupportedInputItem_Is400InOpenAisShape_AndNothingIsSent()
    {
        using var http = _host.Client();
        using var response = await http.PostAsync("v1/responses", Body(new JsonObject
        {
            ["model"] = Local, ["input"] = new JsonArray(new JsonObject { ["type"] = "computer_call_output", ["call_id"] = "c1" }),
        }));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((string?)error["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)error["param"], Is.EqualTo("input"));
        Assert.That((string?)error["message"], Does.Contain("computer_call_output"));
        Assert.That(_host.Fake.Requests, Is.Empty);
    }

    [Test]
    public async Task ConversationKeptByTheGateway_ContinuedOnANativeModel_IsSentAsFullInput()
    {
        using var http = _host.Client();
        var first = await PostAsync(http, new JsonObject { ["model"] = Claude, ["input"] = "remember the number 7" });

        var second = await PostAsync(http, new JsonObject { ["model"] = "gpt-4o-mini", ["input"] = "which number?", ["previous_response_id"] = (string)first["id"]! });

        var upstream = _host.Fake.LastRequest;
        Assert.That(upstream.Path, Is.EqualTo("/v1/responses"));
        Assert.That(upstream.Json!["previous_response_id"], Is.Null, "the native upstream never saw that id");
        var input = upstream.Json!["input"]!.AsArray();
        Assert.That(input.Select(Text), Is.EqualTo(new[] { "remember the number 7", "Echo: remember the number 7", "which number?" }));
        Assert.That((string?)second["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Echo: which number?"));
    }

    [Test]
    public async Task NativeUpstream_StillReceivesResponsesAsIs()
    {
        using var http = _host.Client();
        var created = await PostAsync(http, new JsonObject { ["model"] = "gpt-4o-mini", ["input"] = "native please" });

        Assert.That(_host.Fake.LastRequest.Path, Is.EqualTo("/v1/responses"));
        Assert.That((string?)created["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Echo: native please"));
    }

    [Test]
    public async Task UnknownResponsesApiSetting_FailsAtStartNamingTheSetting()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(async () =>
        {
            await using var host = await GatewayHost.StartAsync(s => s["LlmServer:Gateway:Upstreams:0:ResponsesApi"] = "sometimes");
        });

        Assert.That(ex!.Message, Does.Contain("LlmServer:Gateway:Upstreams:0:ResponsesApi"));
    }

    private static string Text(JsonNode? message) => message?["content"] switch
    {
        JsonValue v => (string)v!,
        JsonArray parts => string.Concat(parts.Select(p => (string?)p?["text"])),
        _ => "",
    };

    private static StringContent Body(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static async Task<JsonNode> PostAsync(HttpClient http, JsonObject body)
    {
        using var response = await http.PostAsync("v1/responses", Body(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        return JsonNode.Parse(text)!;
    }

    private async Task<HttpClient> KeyClientAsync(HttpClient admin, string name)
    {
        using var created = await admin.PostAsJsonAsync("api/v1/admin/keys", new { name });
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        Assert.That((int)created.StatusCode, Is.EqualTo(201), body.ToJsonString());
        var http = _host.Client(withKey: false);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)body["data"]!["key"]!);
        return http;
    }

    private static List<JsonNode> ParseEvents(string sse)
    {
        var events = new List<JsonNode>();
        foreach (var block in sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            var name = lines.FirstOrDefault(l => l.StartsWith("event: ", StringComparison.Ordinal))?[7..];
            var data = lines.FirstOrDefault(l => l.StartsWith("data: ", StringComparison.Ordinal))?[6..];
            if (data is null) continue;
            var node = JsonNode.Parse(data)!;
            Assert.That((string?)node["type"], Is.EqualTo(name), "each event's name is its type");
            events.Add(node);
        }
        return events;
    }
}
