using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Conformance;

/// <summary>
/// A second real client: the official OpenAI (6.x) and Anthropic Node SDKs (tests/node-clients/clients.mjs)
/// against the server on a real port, in front of the fake upstream (an openai_compatible vLLM upstream).
/// </summary>
[TestFixture]
public sealed class NodeSdkClientTests
{
    private const string MasterKey = "sk-node-sdk-master";
    private const string Prompt = "서버 i-1234567890abcdef0 상태를 알려줘";

    [Test]
    public async Task OfficialNodeSdks_ChatResponsesEmbeddingsModelsAndMessages_Work()
    {
        var dir = NodeClients.Directory();
        await using var fake = await FakeUpstreamServer.StartAsync();
        await using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Vllm:BaseUrl"] = fake.V1Url,
            ["LlmServer:Vllm:ApiKey"] = "sk-vllm-upstream",
            ["LlmServer:Auth:MasterKey"] = MasterKey,
        });
        app.UseKestrel(0);
        app.StartServer();
        using var probe = app.CreateClient();

        var result = await NodeClients.RunAsync(dir, "clients.mjs", new Dictionary<string, string>
        {
            ["LLMSERVER_URL"] = probe.BaseAddress!.ToString().TrimEnd('/'),
            ["LLMSERVER_KEY"] = MasterKey,
            ["LLMSERVER_PROMPT"] = Prompt,
        }, TimeSpan.FromSeconds(60));

        var expected = "Echo: " + Prompt;
        Assert.Multiple(() =>
        {
            Assert.That((string?)result["chat"]?["text"], Is.EqualTo(expected), result.ToJsonString());
            Assert.That((int?)result["chat"]?["total_tokens"], Is.GreaterThan(0));
            Assert.That((string?)result["chat_stream"]?["text"], Is.EqualTo(expected));
            Assert.That((string?)result["chat_stream"]?["finish"], Is.EqualTo("stop"));
            Assert.That((int?)result["chat_stream"]?["total_tokens"], Is.GreaterThan(0), "include_usage asked by the client reaches it");
            Assert.That((string?)result["tool_call"]?["arguments"]?["input"], Is.EqualTo(Prompt));
            Assert.That((string?)result["tool_call"]?["finish"], Is.EqualTo("tool_calls"));
            Assert.That((string?)result["responses"]?["text"], Is.EqualTo(expected));
            Assert.That((string?)result["responses_stream"]?["text"], Is.EqualTo(expected));
            Assert.That((bool?)result["responses_stream"]?["completed"], Is.True);
            Assert.That((int?)result["embeddings"]?["count"], Is.EqualTo(2));
            Assert.That(result["models"]?["ids"]?.AsArray().Select(n => (string?)n), Does.Contain("gpt-4o-mini"));
            Assert.That((int?)result["unknown_model"]?["status"], Is.EqualTo(404));
            Assert.That((string?)result["messages"]?["text"], Is.EqualTo(expected));
            Assert.That((string?)result["messages"]?["stop_reason"], Is.EqualTo("end_turn"));
            Assert.That((string?)result["messages_stream"]?["text"], Is.EqualTo(expected));
            Assert.That((string?)result["messages_stream"]?["first"], Is.EqualTo("message_start"));
            Assert.That((string?)result["messages_stream"]?["last"], Is.EqualTo("message_stop"));
            Assert.That((string?)result["messages_tool"]?["input"]?["input"], Is.EqualTo(Prompt));
            Assert.That((string?)result["messages_tool"]?["stop_reason"], Is.EqualTo("tool_use"));
            Assert.That((int?)result["messages_bad_json"]?["status"], Is.EqualTo(400));
            Assert.That((string?)result["messages_bad_json"]?["body"]?["error"]?["type"], Is.EqualTo("invalid_request_error"));
        });
        Assert.That(fake.Requests.All(r => r.ApiKey == "sk-vllm-upstream"), Is.True, "the upstream sees the server's key, never the caller's");
    }
}
