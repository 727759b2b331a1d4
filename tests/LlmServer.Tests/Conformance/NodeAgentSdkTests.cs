using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Conformance;

/// <summary>
/// The agent frameworks people build on, as real clients (tests/node-clients/agent-sdks.mjs): the Vercel AI SDK
/// (OpenAI chat and Responses, openai-compatible, Anthropic translated and passthrough) and LangChain JS (OpenAI
/// chat and Responses, Anthropic translated and passthrough), each with a chat, a stream and a tool round trip,
/// against the server on a real port in front of the fake upstream (vLLM and Anthropic).
/// </summary>
[TestFixture]
public sealed class NodeAgentSdkTests
{
    private const string MasterKey = "sk-node-agent-master";
    private const string Prompt = "서울 날씨 알려줘";
    private const string Expected = "Echo: " + Prompt;

    /// <summary>The fake echoes the last thing it was told: after the tool ran, that is the tool's result.</summary>
    private const string AnswerToToolResult = "Echo: sunny";

    private static readonly string[] s_aiSdk = ["ai_openai_chat", "ai_openai_responses", "ai_openai_compatible", "ai_anthropic_translated", "ai_anthropic_passthrough"];
    private static readonly string[] s_langChain = ["lc_openai", "lc_openai_responses", "lc_anthropic_translated", "lc_anthropic_passthrough"];

    private static JsonNode? s_result;
    private static FakeUpstreamServer? s_fake;

    [OneTimeSetUp]
    public async Task RunClientsAsync()
    {
        var dir = NodeClients.Directory();
        s_fake = await FakeUpstreamServer.StartAsync();
        s_fake.ToolCalls.Add(new ScriptedToolCall("lookup", """{"input":"seoul"}"""));
        await using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Vllm:BaseUrl"] = s_fake.V1Url,
            ["LlmServer:Anthropic:BaseUrl"] = s_fake.BaseUrl,
            ["LlmServer:Anthropic:ApiKey"] = "sk-ant-upstream",
            ["LlmServer:Auth:MasterKey"] = MasterKey,
        });
        app.UseKestrel(0);
        app.StartServer();
        using var probe = app.CreateClient();
        s_result = await NodeClients.RunAsync(dir, "agent-sdks.mjs", new Dictionary<string, string>
        {
            ["LLMSERVER_URL"] = probe.BaseAddress!.ToString().TrimEnd('/'),
            ["LLMSERVER_KEY"] = MasterKey,
            ["LLMSERVER_PROMPT"] = Prompt,
            ["LLMSERVER_MODEL"] = "gpt-4o-mini",
            ["LLMSERVER_CLAUDE"] = "claude-sonnet-4-5",
        }, TimeSpan.FromSeconds(120));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (s_fake is not null) await s_fake.DisposeAsync();
    }

    private static JsonNode Step(string name) => s_result?[name] ?? throw new AssertionException($"no result for {name}: {s_result?.ToJsonString()}");

    [TestCaseSource(nameof(s_aiSdk))]
    public void VercelAiSdk_ChatStreamAndToolRoundTrip_Work(string provider)
    {
        var chat = Step(provider + ".chat");
        var stream = Step(provider + ".stream");
        var tool = Step(provider + ".tool");
        Assert.Multiple(() =>
        {
            Assert.That((string?)chat["text"], Is.EqualTo(Expected), chat.ToJsonString());
            Assert.That((string?)chat["finish"], Is.EqualTo("stop"));
            Assert.That((int?)chat["input_tokens"], Is.GreaterThan(0), "usage reaches the SDK");
            Assert.That((string?)stream["text"], Is.EqualTo(Expected), stream.ToJsonString());
            Assert.That((int?)stream["parts"], Is.GreaterThan(1), "streamed in pieces");
            Assert.That((string?)tool["calls"]?[0]?["input"], Is.EqualTo("seoul"), tool.ToJsonString());
            Assert.That((int?)tool["steps"], Is.EqualTo(2), "call, then the answer to the tool's result");
            Assert.That((string?)tool["text"], Is.EqualTo(AnswerToToolResult), "the tool's result reached the model");
        });
    }

    [TestCaseSource(nameof(s_langChain))]
    public void LangChainJs_ChatStreamAndToolRoundTrip_Work(string provider)
    {
        var chat = Step(provider + ".chat");
        var stream = Step(provider + ".stream");
        var tool = Step(provider + ".tool");
        Assert.Multiple(() =>
        {
            Assert.That((string?)chat["text"], Is.EqualTo(Expected), chat.ToJsonString());
            Assert.That((string?)stream["text"], Is.EqualTo(Expected), stream.ToJsonString());
            Assert.That((int?)stream["parts"], Is.GreaterThan(1), "streamed in pieces");
            Assert.That((string?)tool["calls"]?[0]?["input"], Is.EqualTo("seoul"), tool.ToJsonString());
            Assert.That((string?)tool["text"], Is.EqualTo(AnswerToToolResult), "the tool's result reached the model");
        });
    }
}
