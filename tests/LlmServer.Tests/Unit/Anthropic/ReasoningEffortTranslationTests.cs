using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Routing;

namespace LlmServer.Tests.Unit.Anthropic;

/// <summary>Anthropic thinking / output_config.effort and OpenAI reasoning_effort, both directions of translation.</summary>
[TestFixture]
public sealed class ReasoningEffortTranslationTests
{
    private static readonly ChatTranslationOptions s_reasoning = new() { PassReasoningEffort = true };

    private static JsonObject Req(string json) => (JsonObject)JsonNode.Parse(json)!;

    private static JsonObject Messages(string extra) =>
        Req($$"""{"model":"m","max_tokens":100,{{extra}}"messages":[{"role":"user","content":"hi"}]}""");

    [TestCase("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},", "low")]
    [TestCase("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":4095},", "low")]
    [TestCase("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":4096},", "medium")]
    [TestCase("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":16383},", "medium")]
    [TestCase("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":16384},", "high")]
    [TestCase("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":64000},", "high")]
    [TestCase("\"thinking\":{\"type\":\"adaptive\"},", "high")]
    [TestCase("\"output_config\":{\"effort\":\"low\"},", "low")]
    [TestCase("\"output_config\":{\"effort\":\"medium\"},", "medium")]
    [TestCase("\"output_config\":{\"effort\":\"max\"},", "high")]
    [TestCase("\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"low\"},", "low")]
    [TestCase("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":32000},\"output_config\":{\"effort\":\"medium\"},", "medium")]
    public void ThinkingAndEffort_BecomeReasoningEffort_OnAnUpstreamThatAcceptsIt(string fields, string expected)
    {
        var chat = MessagesToChatRequest.Translate(Messages(fields), s_reasoning);

        Assert.That((string?)chat["reasoning_effort"], Is.EqualTo(expected));
        Assert.That(chat.ContainsKey("thinking"), Is.False);
        Assert.That(chat.ContainsKey("output_config"), Is.False);
    }

    [Test]
    public void ThinkingDisabled_SendsNoReasoningEffort()
    {
        var chat = MessagesToChatRequest.Translate(Messages("\"thinking\":{\"type\":\"disabled\"},"), s_reasoning);

        Assert.That(chat.ContainsKey("reasoning_effort"), Is.False);
    }

    [Test]
    public void ThinkingAndEffort_AreDropped_WhenTheUpstreamTakesNoReasoningEffort()
    {
        var chat = MessagesToChatRequest.Translate(
            Messages("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":8000},\"output_config\":{\"effort\":\"high\"},"),
            new ChatTranslationOptions { PassReasoningEffort = false });

        Assert.That(chat.ContainsKey("reasoning_effort"), Is.False);
        Assert.That(chat.ContainsKey("thinking"), Is.False);
        Assert.That(chat.ContainsKey("output_config"), Is.False);
    }

    [TestCase("openai_compatible", "qwen3-coder", true)]
    [TestCase("openai_compatible", "gpt-4o-mini", true)]
    [TestCase("openai", "gpt-5-mini", true)]
    [TestCase("openai", "o4-mini", true)]
    [TestCase("azure_openai", "o3", true)]
    [TestCase("openai", "gpt-4o-mini", false)]
    [TestCase("azure_openai", "my-gpt4o-deployment", false)]
    public void ReasoningEffort_GoesToUpstreamsThatAcceptItForTheModel(string kind, string model, bool expected)
    {
        var upstream = new UpstreamDefinition { Name = "u", Kind = kind, BaseUrl = "http://127.0.0.1:1/v1" };

        var options = MessagesTranslation.OptionsFor(new Deployment(upstream, model, 1));

        Assert.That(options.PassReasoningEffort, Is.EqualTo(expected));
    }

    [TestCase("low", 2048)]
    [TestCase("medium", 8192)]
    [TestCase("high", 16384)]
    public void ReasoningEffort_BecomesThinkingWithABudget_AndMaxTokensAboveIt(string effort, int budget)
    {
        var r = ChatToMessagesRequest.Translate(Req($$"""
            {"model":"claude-x","max_completion_tokens":500,"reasoning_effort":"{{effort}}","temperature":0.2,
             "messages":[{"role":"user","content":"hi"}]}
            """));

        Assert.That((string?)r["thinking"]!["type"], Is.EqualTo("enabled"));
        Assert.That((long?)r["thinking"]!["budget_tokens"], Is.EqualTo(budget));
        Assert.That((long?)r["max_tokens"], Is.EqualTo(budget + 500));
        Assert.That(r.ContainsKey("temperature"), Is.False, "Anthropic refuses temperature with thinking");
        Assert.That(r.ContainsKey("reasoning_effort"), Is.False);
        // the budget maps back to the same level
        Assert.That(ReasoningEffort.FromAnthropic(r), Is.EqualTo(effort));
    }

    [Test]
    public void ReasoningEffort_KeepsAMaxTokensThatAlreadyExceedsTheBudget()
    {
        var r = ChatToMessagesRequest.Translate(Req("""
            {"model":"claude-x","max_tokens":30000,"reasoning_effort":"high","messages":[{"role":"user","content":"hi"}]}
            """));

        Assert.That((long?)r["max_tokens"], Is.EqualTo(30000));
    }

    [Test]
    public void ReasoningEffort_IsLeftOut_WhileAToolCallIsBeingAnswered()
    {
        // Anthropic wants the signed thinking block that preceded the call, which the OpenAI conversation lacks.
        var r = ChatToMessagesRequest.Translate(Req("""
            {"model":"claude-x","max_tokens":100,"reasoning_effort":"high","messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"c1","content":"sunny"}],
             "tools":[{"type":"function","function":{"name":"w","parameters":{"type":"object"}}}]}
            """));

        Assert.That(r.ContainsKey("thinking"), Is.False);
        Assert.That((long?)r["max_tokens"], Is.EqualTo(100));
    }

    [Test]
    public void ReasoningEffort_IsLeftOut_WithAForcedTool()
    {
        var r = ChatToMessagesRequest.Translate(Req("""
            {"model":"claude-x","max_tokens":100,"reasoning_effort":"low","tool_choice":"required","messages":[{"role":"user","content":"hi"}],
             "tools":[{"type":"function","function":{"name":"w","parameters":{"type":"object"}}}]}
            """));

        Assert.That(r.ContainsKey("thinking"), Is.False);
    }
}
