using System.ClientModel;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using OpenAI;
using OpenAI.Chat;
using Leak = LlmServer.Tests.Unit.Masking.ToolDefinitionMaskingTests;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>
/// An AWS key, a resident registration number, a phone number and an OpenAI key written into tool definitions
/// (descriptions, parameter schemas) and message names never reach the upstream in clear, on every API surface
/// and dialect path; where the model echoes their placeholders, the client gets the originals back.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ToolDefinitionMaskingTests
{
    private const string ClaudeModel = "claude-haiku-4-5";
    private const string OpenAiModel = "gpt-4o-mini";

    private static readonly JsonSerializerOptions s_relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await GatewayHost.StartWithAnthropicAsync(ClaudeModel);

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Usage.Clear();
        // NOTE: the "model" answers with the first tool description exactly as it reached it (placeholders included).
        _host.Fake.ReplyFactory = (request, _) => FirstToolDescription(request.Json) ?? "no tools seen";
    }

    private static string? FirstToolDescription(JsonNode? body) =>
        (string?)(body?["tools"]?[0]?["function"]?["description"] ?? body?["tools"]?[0]?["description"]);

    /// <summary>The upstream's view of the request, decoded: no original in it, and placeholders in the description.</summary>
    private RecordedRequest AssertUpstreamSawOnlyPlaceholders(string path)
    {
        var request = _host.Fake.LastRequest;
        Assert.That(request.Path, Is.EqualTo(path));
        var decoded = request.Json!.ToJsonString(s_relaxed);
        foreach (var original in Leak.Originals)
        {
            Assert.That(decoded, Does.Not.Contain(original), $"{original} reached the upstream through {path}");
        }
        Assert.That(FirstToolDescription(request.Json), Does.Contain("<<AWS_ACCESS_KEY_1>>").And.Contain("<<KR_RRN_1>>")
            .And.Contain("<<PHONE_1>>").And.Contain("<<OPENAI_KEY_"));
        return request;
    }

    private static JsonObject Parameters() => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["input"] = new JsonObject { ["type"] = "string", ["description"] = "e.g. " + Leak.Rrn + " or " + Leak.Phone },
            ["mode"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("fast", "safe") },
        },
    };

    private async Task<JsonNode> PostAsync(string path, JsonObject body)
    {
        using var http = _host.Client();
        http.DefaultRequestHeaders.Add("x-api-key", GatewayHost.MasterKey);
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
        using var response = await http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), text);
        return JsonNode.Parse(text)!;
    }

    private static JsonObject ChatBody(string model, string toolChoice, string userText) => new()
    {
        ["model"] = model,
        ["max_tokens"] = 200,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["name"] = "ops " + Leak.Phone, ["content"] = userText }),
        ["tools"] = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = "lookup", ["description"] = Leak.Leaky, ["parameters"] = Parameters() },
        }),
        ["tool_choice"] = toolChoice,
    };

    private static JsonObject MessagesBody(string model, bool callTool, string userText) => new()
    {
        ["model"] = model,
        ["max_tokens"] = 200,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = userText }),
        ["tools"] = new JsonArray(new JsonObject { ["name"] = "lookup", ["description"] = Leak.Leaky, ["input_schema"] = Parameters() }),
        ["tool_choice"] = new JsonObject { ["type"] = callTool ? "auto" : "none" },
    };

    [Test]
    public async Task ChatCompletions_OfficialSdk_ToolDescriptionIsMasked_AndTheEchoedPlaceholdersComeBackRestored()
    {
        var tool = ChatTool.CreateFunctionTool("lookup", Leak.Leaky, BinaryData.FromString(Parameters().ToJsonString()));
        var options = new ChatCompletionOptions { Tools = { tool }, ToolChoice = ChatToolChoice.CreateNoneChoice() };
        var client = new ChatClient(OpenAiModel, new ApiKeyCredential(GatewayHost.MasterKey), new OpenAIClientOptions { Endpoint = _host.V1 });

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("which key does lookup use?")], options);

        var seen = AssertUpstreamSawOnlyPlaceholders("/v1/chat/completions");
        Assert.That((string?)seen.Json!["tools"]![0]!["function"]!["name"], Is.EqualTo("lookup"), "tool names stay");
        Assert.That((string?)seen.Json!["tools"]![0]!["function"]!["parameters"]!["properties"]!["input"]!["description"], Is.EqualTo("e.g. <<KR_RRN_1>> or <<PHONE_1>>"));
        Assert.That(seen.Json!["tools"]![0]!["function"]!["parameters"]!["properties"]!["mode"]!["enum"]!.ToJsonString(), Is.EqualTo("""["fast","safe"]"""));
        Assert.That(completion.Content[0].Text, Is.EqualTo(Leak.Leaky));
    }

    [Test]
    public async Task ChatCompletions_MessageNameIsMasked_AndToolCallArgumentsAreRestored()
    {
        var answer = await PostAsync("v1/chat/completions", ChatBody(OpenAiModel, "auto", Leak.Leaky));

        var seen = AssertUpstreamSawOnlyPlaceholders("/v1/chat/completions");
        Assert.That((string?)seen.Json!["messages"]![0]!["name"], Is.EqualTo("ops <<PHONE_1>>"));
        var arguments = (string?)answer["choices"]![0]!["message"]!["tool_calls"]![0]!["function"]!["arguments"];
        Assert.That((string?)JsonNode.Parse(arguments!)!["input"], Is.EqualTo(Leak.Leaky), "the model echoed placeholders; the client reads the originals");
    }

    [Test]
    public async Task ChatCompletions_TranslatedToAnthropic_ToolDescriptionIsMasked_AndRestoredInTheAnswer()
    {
        var answer = await PostAsync("v1/chat/completions", ChatBody(ClaudeModel, "none", "which key?"));

        AssertUpstreamSawOnlyPlaceholders("/v1/messages");
        Assert.That((string?)answer["choices"]![0]!["message"]!["content"], Is.EqualTo(Leak.Leaky));
    }

    [Test]
    public async Task Responses_ToolDescriptionAndParameters_AreMasked_AndRestoredInTheAnswer()
    {
        var body = new JsonObject
        {
            ["model"] = OpenAiModel,
            ["instructions"] = "Escalate to " + Leak.Phone,
            ["input"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = "which key?" }) }),
            ["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["name"] = "lookup", ["description"] = Leak.Leaky, ["parameters"] = Parameters() }),
        };

        var answer = await PostAsync("v1/responses", body);

        var seen = AssertUpstreamSawOnlyPlaceholders("/v1/responses");
        Assert.That((string?)seen.Json!["instructions"], Is.EqualTo("Escalate to <<PHONE_1>>"));
        Assert.That((string?)seen.Json!["tools"]![0]!["parameters"]!["properties"]!["input"]!["description"], Is.EqualTo("e.g. <<KR_RRN_1>> or <<PHONE_1>>"));
        Assert.That((string?)answer["output"]![0]!["content"]![0]!["text"], Is.EqualTo(Leak.Leaky));
    }

    [Test]
    public async Task Messages_PassedThroughToAnthropic_ToolDescriptionIsMasked_AndRestoredInTheAnswer()
    {
        var answer = await PostAsync("v1/messages", MessagesBody(ClaudeModel, callTool: false, "which key?"));

        var seen = AssertUpstreamSawOnlyPlaceholders("/v1/messages");
        Assert.That((string?)seen.Json!["tools"]![0]!["input_schema"]!["properties"]!["input"]!["description"], Is.EqualTo("e.g. <<KR_RRN_1>> or <<PHONE_1>>"));
        Assert.That((string?)answer["content"]![0]!["text"], Is.EqualTo(Leak.Leaky));
    }

    [Test]
    public async Task Messages_PassedThroughToAnthropic_ToolUseInputIsRestored()
    {
        var answer = await PostAsync("v1/messages", MessagesBody(ClaudeModel, callTool: true, Leak.Leaky));

        AssertUpstreamSawOnlyPlaceholders("/v1/messages");
        var toolUse = answer["content"]!.AsArray().First(b => (string?)b!["type"] == "tool_use")!;
        Assert.That((string?)toolUse["input"]!["input"], Is.EqualTo(Leak.Leaky));
    }

    [Test]
    public async Task Messages_TranslatedToOpenAi_ToolDescriptionIsMasked_AndRestoredInTheAnswer()
    {
        var answer = await PostAsync("v1/messages", MessagesBody(OpenAiModel, callTool: false, "which key?"));

        var seen = AssertUpstreamSawOnlyPlaceholders("/v1/chat/completions");
        Assert.That((string?)seen.Json!["tools"]![0]!["function"]!["parameters"]!["properties"]!["input"]!["description"], Is.EqualTo("e.g. <<KR_RRN_1>> or <<PHONE_1>>"));
        Assert.That((string?)answer["content"]![0]!["text"], Is.EqualTo(Leak.Leaky));
    }

    [Test]
    public async Task Messages_TranslatedToOpenAi_ToolCallArgumentsAreRestored()
    {
        var answer = await PostAsync("v1/messages", MessagesBody(OpenAiModel, callTool: true, Leak.Leaky));

        AssertUpstreamSawOnlyPlaceholders("/v1/chat/completions");
        var toolUse = answer["content"]!.AsArray().First(b => (string?)b!["type"] == "tool_use")!;
        Assert.That((string?)toolUse["input"]!["input"], Is.EqualTo(Leak.Leaky));
    }

    [Test]
    public async Task CompletionsPromptArray_AndEmbeddingsInputArray_AreMasked()
    {
        using var http = _host.Client();

        using var completion = await http.PostAsJsonAsync("v1/completions", new { model = OpenAiModel, prompt = new[] { Leak.Leaky, "plain" } });
        Assert.That((int)completion.StatusCode, Is.EqualTo(200));
        var completionSeen = _host.Fake.LastRequest.Json!.ToJsonString(s_relaxed);
        using var embeddings = await http.PostAsJsonAsync("v1/embeddings", new { model = "text-embedding-3-small", input = new[] { "plain", Leak.Leaky } });
        Assert.That((int)embeddings.StatusCode, Is.EqualTo(200));
        var embeddingsSeen = _host.Fake.LastRequest.Json!.ToJsonString(s_relaxed);

        foreach (var original in Leak.Originals)
        {
            Assert.That(completionSeen, Does.Not.Contain(original));
            Assert.That(embeddingsSeen, Does.Not.Contain(original));
        }
        Assert.That(completionSeen, Does.Contain("<<KR_RRN_1>>"));
        Assert.That(embeddingsSeen, Does.Contain("<<KR_RRN_1>>"));
    }
}
