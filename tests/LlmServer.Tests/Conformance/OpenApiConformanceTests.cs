using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Integration.Gateway;

namespace LlmServer.Tests.Conformance;

/// <summary>
/// Bodies and stream chunks that LlmServer's /v1 API answers with, validated against OpenAI's official
/// OpenAPI document: successful answers (as forwarded and rewritten by the gateway) and the error bodies
/// the gateway writes itself.
/// </summary>
[TestFixture]
public sealed class OpenApiConformanceTests
{
    private GatewayHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (!OpenApiSpec.Available)
        {
            Assert.Ignore("shared/specs/openai-openapi.yaml not found beside the repository (set LLMSERVER_OPENAPI_SPEC).");
        }
        _host = await GatewayHost.StartAsync();
        _http = new HttpClient { BaseAddress = _host.BaseAddress };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayHost.MasterKey);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http?.Dispose();
        if (_host is not null) await _host.DisposeAsync();
    }

    [SetUp]
    public void ResetFake() => _host?.Fake.Reset();

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(string path, string json)
    {
        using var response = await _http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
    }

    private static void AssertValid(string schema, JsonNode? body)
    {
        var errors = OpenApiSpec.Validate(schema, body);
        Assert.That(errors, Is.Empty, $"{schema} violations:\n{string.Join("\n", errors)}\nbody: {body?.ToJsonString()}");
    }

    [Test]
    public async Task ChatCompletion_MatchesCreateChatCompletionResponse()
    {
        var (status, body) = await PostAsync("/v1/chat/completions", """{"model":"house","messages":[{"role":"user","content":"안녕하세요"}]}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        AssertValid("CreateChatCompletionResponse", body);
        Assert.That((string?)body!["model"], Is.Not.Null);
    }

    [Test]
    public async Task ChatCompletionWithToolCall_MatchesCreateChatCompletionResponse()
    {
        var (status, body) = await PostAsync("/v1/chat/completions", """
            {"model":"gpt-4o-mini","messages":[{"role":"user","content":"weather in Seoul"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"input":{"type":"string"}}}}}]}
            """);

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        AssertValid("CreateChatCompletionResponse", body);
        Assert.That((string?)body!["choices"]![0]!["finish_reason"], Is.EqualTo("tool_calls"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ChatCompletionStream_EveryChunkMatchesCreateChatCompletionStreamResponse(bool includeUsage)
    {
        var options = includeUsage ? ""","stream_options":{"include_usage":true}""" : "";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"gpt-4o-mini","stream":true{{options}},"messages":[{"role":"user","content":"one two three"}]}""", Encoding.UTF8, "application/json"),
        };
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync();

        var data = text.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..]).ToList();
        Assert.That(data[^1], Is.EqualTo("[DONE]"));
        var chunks = data.Take(data.Count - 1).Select(d => JsonNode.Parse(d)).ToList();
        Assert.That(chunks, Has.Count.GreaterThan(2));
        foreach (var chunk in chunks) AssertValid("CreateChatCompletionStreamResponse", chunk);
        Assert.That(chunks.Any(c => c!["usage"] is JsonObject), Is.EqualTo(includeUsage), "the usage chunk reaches only clients that asked for it");
    }

    [Test]
    public async Task Completion_MatchesCreateCompletionResponse()
    {
        var (status, body) = await PostAsync("/v1/completions", """{"model":"gpt-4o-mini","prompt":"Say this is a test","max_tokens":7}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        AssertValid("CreateCompletionResponse", body);
    }

    [Test]
    public async Task Embeddings_MatchCreateEmbeddingResponse()
    {
        var (status, body) = await PostAsync("/v1/embeddings", """{"model":"text-embedding-3-small","input":["첫 문장","second"]}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        AssertValid("CreateEmbeddingResponse", body);
    }

    [Test]
    public async Task Response_MatchesResponseSchema()
    {
        var (status, body) = await PostAsync("/v1/responses", """{"model":"gpt-4o-mini","input":"Responses API에서 안녕","instructions":"Be brief."}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        AssertValid("Response", body);
    }

    [Test]
    public async Task ResponseStream_EveryEventMatchesResponseStreamEvent()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"input":"one two three"}""", Encoding.UTF8, "application/json"),
        };
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync();

        var events = text.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[6..])).ToList();
        Assert.That(events.Select(e => (string?)e!["type"]), Does.Contain("response.output_text.delta").And.Contain("response.completed"));
        foreach (var e in events) AssertValid("ResponseStreamEvent", e);
    }

    [Test]
    public async Task Models_MatchListModelsResponseAndModel()
    {
        var list = JsonNode.Parse(await _http.GetStringAsync("/v1/models"));
        AssertValid("ListModelsResponse", list);
        var id = (string)list!["data"]![0]!["id"]!;

        var one = JsonNode.Parse(await _http.GetStringAsync("/v1/models/" + Uri.EscapeDataString(id)));
        AssertValid("Model", one);
    }

    [Test]
    public async Task GatewayErrors_MatchErrorResponse()
    {
        var (unknownStatus, unknown) = await PostAsync("/v1/chat/completions", """{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}""");
        var (malformedStatus, malformed) = await PostAsync("/v1/chat/completions", """{"model": "gpt-4o-mini", "messages": [""");
        _host.Fake.EnqueueFault(Fault.Http(500), 3);
        var (upstreamStatus, upstream) = await PostAsync("/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}""");
        using var anonymous = new HttpClient { BaseAddress = _host.BaseAddress };
        using var unauthorized = await anonymous.GetAsync("/v1/models");

        Assert.That(unknownStatus, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(malformedStatus, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(upstreamStatus, Is.EqualTo(HttpStatusCode.BadGateway));
        Assert.That(unauthorized.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        AssertValid("ErrorResponse", unknown);
        AssertValid("ErrorResponse", malformed);
        AssertValid("ErrorResponse", upstream);
        AssertValid("ErrorResponse", JsonNode.Parse(await unauthorized.Content.ReadAsStringAsync()));
    }

    [Test]
    public void Validator_RejectsABodyThatBreaksTheSchema()
    {
        // The validator itself must be able to fail, or the tests above prove nothing.
        var broken = JsonNode.Parse("""{"id":"x","object":"chat.completion","created":"yesterday","model":"m","choices":[{"index":0,"message":{"role":"robot"},"logprobs":null}]}""");

        var errors = OpenApiSpec.Validate("CreateChatCompletionResponse", broken);

        Assert.That(errors, Has.Some.Contains("$.created"));
        Assert.That(errors, Has.Some.Contains("finish_reason"));
        Assert.That(errors, Has.Some.Contains("$.choices[0].message.role"));
    }
}
