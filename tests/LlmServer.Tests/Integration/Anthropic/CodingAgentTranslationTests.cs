using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmServer.Tests.Integration.Gateway;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>
/// What Claude Code (and OpenAI clients on a Claude model) send, through the server to the fake upstream:
/// thinking effort in both directions of translation, and the per-request billing block of Claude Code's system prompt.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CodingAgentTranslationTests
{
    private const string Claude = "claude-haiku-4-5";
    private const string Translated = "gpt-4o-mini";
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await GatewayHost.StartWithAnthropicAsync(Claude);

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Usage.Clear();
    }

    private async Task<int> PostAsync(string json) => (int)(await AgentRequests.PostAsync(_host, "/v1/messages", json)).Response.StatusCode;

    private static string ClaudeCodeRequest(string model, string nonce, string extra = "") => $$$"""
        {"model":"{{{model}}}","max_tokens":200,{{{extra}}}
         "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.3.{{{nonce}}}; cc_entrypoint=cli;"},
                   {"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],
         "messages":[{"role":"user","content":"hi"}]}
        """;

    [Test]
    public async Task Messages_ThinkingEffort_ReachesATranslatedUpstreamAsReasoningEffort()
    {
        var status = await PostAsync(
            ClaudeCodeRequest(Translated, "a1", "\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"low\"},"));

        Assert.That(status, Is.EqualTo(200));
        var sent = _host.Fake.LastRequest.Json!;
        Assert.That((string?)sent["reasoning_effort"], Is.EqualTo("low"));
        Assert.That(sent.AsObject().ContainsKey("thinking"), Is.False);
        Assert.That(sent.AsObject().ContainsKey("output_config"), Is.False);
    }

    [Test]
    public async Task Messages_TranslatedSystemPrompt_IsByteIdentical_AcrossRequestsDifferingOnlyInClaudeCodesNonce()
    {
        await PostAsync(ClaudeCodeRequest(Translated, "42e1"));
        await PostAsync(ClaudeCodeRequest(Translated, "9f07"));

        var bodies = _host.Fake.Requests.Where(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)).Select(r => r.Body).ToArray();
        Assert.That(bodies, Has.Length.EqualTo(2));
        Assert.That(bodies[0], Is.EqualTo(bodies[1]), "the whole translated body, prefix included, is the same");
        Assert.That(bodies[0], Does.Not.Contain("x-anthropic-billing-header"));
        Assert.That(bodies[0], Does.Contain("You are Claude Code."));
    }

    [Test]
    public async Task Messages_Passthrough_KeepsClaudeCodesBillingBlockForAnthropic()
    {
        var status = await PostAsync(ClaudeCodeRequest(Claude, "77aa"));

        Assert.That(status, Is.EqualTo(200));
        var system = _host.Fake.LastRequest.Json!["system"]!.AsArray();
        Assert.That((string?)system[0]!["text"], Is.EqualTo("x-anthropic-billing-header: cc_version=2.1.3.77aa; cc_entrypoint=cli;"));
        Assert.That((string?)system[1]!["cache_control"]!["type"], Is.EqualTo("ephemeral"));
    }

    [Test]
    public async Task ChatCompletions_ReasoningEffortOnAClaudeModel_BecomesThinkingWithRoomForTheAnswer()
    {
        using var http = _host.Client();
        using var response = await http.PostAsJsonAsync("/v1/chat/completions", new JsonObject
        {
            ["model"] = Claude,
            ["max_completion_tokens"] = 300,
            ["reasoning_effort"] = "medium",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
        });

        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
        var sent = _host.Fake.LastRequest.Json!;
        Assert.That((string?)sent["thinking"]!["type"], Is.EqualTo("enabled"));
        Assert.That((long?)sent["thinking"]!["budget_tokens"], Is.EqualTo(8192));
        Assert.That((long?)sent["max_tokens"], Is.EqualTo(8192 + 300));
    }
}
