using LlmServer.Dto.Chat;
using LlmServer.Services.Chat;

namespace LlmServer.Tests.Unit.Chat;

[TestFixture]
public sealed class ChatCompositionTests
{
    private static readonly ChatOptions s_options = new();

    [Test]
    public void Instructions_AreSystemPromptThenRoleThenMemoryThenInstructions()
    {
        var request = new ChatRequest
        {
            UserPrompt = "hi",
            SystemPrompt = "You are a tutor.",
            Role = "Python teacher",
            MemoryContext = ["likes examples", "", "is a beginner"],
            Instructions = "Answer briefly.",
        };

        var block = ChatComposition.ComposeInstructions(request, s_options, "en");

        Assert.That(block, Is.EqualTo(
            "You are a tutor.\n\nRole: Python teacher\n\nMemory:\n- likes examples\n- is a beginner\n\nInstructions: Answer briefly."));
    }

    [Test]
    public void Instructions_LeaveOutAbsentParts()
    {
        var block = ChatComposition.ComposeInstructions(new ChatRequest { UserPrompt = "hi", SystemPrompt = "S", Instructions = "I" }, s_options, "en");

        Assert.That(block, Is.EqualTo("S\n\nInstructions: I"));
    }

    [Test]
    public void Instructions_WithoutSystemPrompt_UseDefaultSystemMessageOfTheLanguage()
    {
        var request = new ChatRequest { UserPrompt = "hi" };

        Assert.That(ChatComposition.ComposeInstructions(request, s_options, "ko"), Is.EqualTo("당신은 도움이 되는 AI 어시스턴트입니다."));
        Assert.That(ChatComposition.ComposeInstructions(request, s_options, "en"), Is.EqualTo("You are a helpful AI assistant."));
    }

    [Test]
    public void Instructions_KoreanLabels_WhenLanguageIsKorean()
    {
        var block = ChatComposition.ComposeInstructions(new ChatRequest { UserPrompt = "x", SystemMessage = "시스템", Role = "튜터" }, s_options, "ko");

        Assert.That(block, Is.EqualTo("시스템\n\n역할: 튜터"));
    }

    [Test]
    public void Aliases_SystemMessageUserMessageRequestId_AreUsedWhenPrimaryNamesAreAbsent()
    {
        var request = new ChatRequest { UserMessage = "u", SystemMessage = "s", RequestId = "r" };

        Assert.That(request.EffectiveUserPrompt, Is.EqualTo("u"));
        Assert.That(request.EffectiveSystemPrompt, Is.EqualTo("s"));
        Assert.That(request.EffectiveSessionId, Is.EqualTo("r"));
    }

    [Test]
    public void Input_IsStoredHistoryThenClientHistoryThenUserPrompt()
    {
        var now = DateTimeOffset.UtcNow;
        var stored = new[] { new ChatTurn("user", "s1", now), new ChatTurn("assistant", "a1", now) };
        var request = new ChatRequest
        {
            UserPrompt = "now",
            ConversationHistory = [new HistoryMessage { Role = "user", Content = "c1" }, new HistoryMessage { Role = "assistant", Content = "c2" }],
        };

        var input = ChatComposition.ComposeInput(request, stored);

        Assert.That(input.Select(m => $"{m.Role}:{m.Content}"), Is.EqualTo(new[] { "user:s1", "assistant:a1", "user:c1", "assistant:c2", "user:now" }));
    }

    [Test]
    public void PlainStringHistoryEntries_AreUserTurns()
    {
        var request = System.Text.Json.JsonSerializer.Deserialize<ChatRequest>(
            """{"user_prompt":"q","conversation_history":["earlier question",{"role":"assistant","content":"earlier answer"}]}""")!;

        Assert.That(request.ConversationHistory!.Select(m => $"{m.Role}:{m.Content}"),
            Is.EqualTo(new[] { "user:earlier question", "assistant:earlier answer" }));
    }

    [Test]
    public void RequestToString_NeverContainsTheUserKey()
    {
        var request = new ChatRequest { UserPrompt = "x", OpenAiApiKey = "sk-secret-user-key" };

        Assert.That(request.ToString(), Does.Not.Contain("sk-secret-user-key"));
    }
}
