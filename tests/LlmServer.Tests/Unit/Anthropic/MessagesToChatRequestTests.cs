using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;

namespace LlmServer.Tests.Unit.Anthropic;

[TestFixture]
public sealed class MessagesToChatRequestTests
{
    private static JsonObject Req(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Test]
    public void SystemString_BecomesLeadingSystemMessage()
    {
        var chat = MessagesToChatRequest.Translate(Req("""{"model":"m","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}"""));
        var messages = (JsonArray)chat["messages"]!;
        Assert.That(messages.Count, Is.EqualTo(2));
        Assert.That((string?)messages[0]!["role"], Is.EqualTo("system"));
        Assert.That((string?)messages[0]!["content"], Is.EqualTo("Be brief."));
        Assert.That((string?)messages[1]!["content"], Is.EqualTo("hi"));
    }

    [Test]
    public void SystemTextBlocks_JoinIntoOneSystemMessage()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"system":[{"type":"text","text":"A"},{"type":"text","text":"B","cache_control":{"type":"ephemeral"}}],
             "messages":[{"role":"user","content":"hi"}]}
            """));
        Assert.That((string?)chat["messages"]![0]!["content"], Is.EqualTo("A\n\nB"));
    }

    [Test]
    public void ClaudeCodeBillingHeaderBlock_IsLeftOut_SoThePromptPrefixStaysTheSameAcrossRequests()
    {
        static string SystemOf(string nonce) => (string)MessagesToChatRequest.Translate(Req($$$"""
            {"model":"m","max_tokens":10,"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.332.{{{nonce}}}; cc_entrypoint=sdk-cli;"},
              {"type":"text","text":"You are a Claude agent.","cache_control":{"type":"ephemeral"}}],
             "messages":[{"role":"user","content":"hi"}]}
            """))["messages"]![0]!["content"]!;

        Assert.That(SystemOf("42e"), Is.EqualTo("You are a Claude agent."));
        Assert.That(SystemOf("9f1"), Is.EqualTo(SystemOf("42e")));
    }

    [Test]
    public void SystemTurnInsideMessages_BecomesASystemMessageInPlace()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"system":"Base.","messages":[
              {"role":"user","content":"first"},
              {"role":"system","content":[{"type":"text","text":"From now on answer in Korean."}]},
              {"role":"user","content":"second"}]}
            """));
        var messages = (JsonArray)chat["messages"]!;
        Assert.That(messages.Select(m => (string?)m!["role"]), Is.EqualTo(new[] { "system", "user", "system", "user" }));
        Assert.That((string?)messages[2]!["content"], Is.EqualTo("From now on answer in Korean."));
    }

    [Test]
    public void AnthropicOnlyFields_ClaudeCodeSends_DoNotReachTheOpenAiBody()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],
             "thinking":{"type":"enabled","budget_tokens":31999},"output_config":{"effort":"high"},
             "context_management":{"edits":[]},"metadata":{"user_id":"u"},"guided_json":{"type":"object"}}
            """));
        Assert.That(chat.ContainsKey("thinking") || chat.ContainsKey("output_config") || chat.ContainsKey("context_management"), Is.False, chat.ToJsonString());
        Assert.That(chat["guided_json"], Is.Not.Null, "a vLLM extra still passes");
    }

    [Test]
    public void MultiTurn_KeepsOrderRolesAndText()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"messages":[
              {"role":"user","content":"안녕"},
              {"role":"assistant","content":[{"type":"text","text":"반갑습니다"}]},
              {"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}]}
            """));
        var m = (JsonArray)chat["messages"]!;
        Assert.That(m.Select(x => (string?)x!["role"]), Is.EqualTo(new[] { "user", "assistant", "user" }));
        Assert.That((string?)m[1]!["content"], Is.EqualTo("반갑습니다"));
        Assert.That((string?)m[2]!["content"], Is.EqualTo("one\ntwo"));
    }

    [Test]
    public void Base64AndUrlImages_BecomeImageUrlParts()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"messages":[{"role":"user","content":[
              {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"QUJD"}},
              {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}},
              {"type":"text","text":"what is this?"}]}]}
            """));
        var parts = (JsonArray)chat["messages"]![0]!["content"]!;
        Assert.That((string?)parts[0]!["type"], Is.EqualTo("image_url"));
        Assert.That((string?)parts[0]!["image_url"]!["url"], Is.EqualTo("data:image/jpeg;base64,QUJD"));
        Assert.That((string?)parts[1]!["image_url"]!["url"], Is.EqualTo("https://example.com/a.png"));
        Assert.That((string?)parts[2]!["text"], Is.EqualTo("what is this?"));
    }

    [Test]
    public void Tools_InputSchemaBecomesFunctionParameters()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],
             "tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}
            """));
        var tool = chat["tools"]![0]!;
        Assert.That((string?)tool["type"], Is.EqualTo("function"));
        Assert.That((string?)tool["function"]!["name"], Is.EqualTo("get_weather"));
        Assert.That((string?)tool["function"]!["description"], Is.EqualTo("Weather"));
        Assert.That(JsonNode.DeepEquals(tool["function"]!["parameters"], JsonNode.Parse("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""")), Is.True);
    }

    [TestCase("""{"type":"auto"}""", "\"auto\"")]
    [TestCase("""{"type":"any"}""", "\"required\"")]
    [TestCase("""{"type":"none"}""", "\"none\"")]
    [TestCase("""{"type":"tool","name":"f"}""", """{"type":"function","function":{"name":"f"}}""")]
    public void ToolChoice_MapsToOpenAiToolChoice(string anthropic, string openAi)
    {
        var chat = MessagesToChatRequest.Translate(Req(
            """{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":""" + anthropic + "}"));
        Assert.That(JsonNode.DeepEquals(chat["tool_choice"], JsonNode.Parse(openAi)), Is.True, chat["tool_choice"]?.ToJsonString());
    }

    [Test]
    public void DisableParallelToolUse_SetsParallelToolCallsFalse()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}
            """));
        Assert.That((bool?)chat["parallel_tool_calls"], Is.False);
    }

    [Test]
    public void ToolUseAndToolResults_BecomeToolCallsAndToolMessages()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":10,"messages":[
              {"role":"user","content":"weather in Seoul and Busan?"},
              {"role":"assistant","content":[{"type":"text","text":"Checking."},
                 {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Seoul"}},
                 {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Busan"}}]},
              {"role":"user","content":[
                 {"type":"tool_result","tool_use_id":"toolu_1","content":"맑음 21°C"},
                 {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"rain"}],"is_error":true},
                 {"type":"text","text":"Summarise."}]}]}
            """));
        var m = (JsonArray)chat["messages"]!;
        Assert.That(m.Select(x => (string?)x!["role"]), Is.EqualTo(new[] { "user", "assistant", "tool", "tool", "user" }));
        var assistant = m[1]!;
        Assert.That((string?)assistant["content"], Is.EqualTo("Checking."));
        var calls = (JsonArray)assistant["tool_calls"]!;
        Assert.That(calls.Count, Is.EqualTo(2));
        Assert.That((string?)calls[0]!["id"], Is.EqualTo("toolu_1"));
        Assert.That((string?)calls[0]!["function"]!["name"], Is.EqualTo("get_weather"));
        Assert.That(JsonNode.Parse((string)calls[1]!["function"]!["arguments"]!)!["city"]!.GetValue<string>(), Is.EqualTo("Busan"));
        Assert.That((string?)m[2]!["tool_call_id"], Is.EqualTo("toolu_1"));
        Assert.That((string?)m[2]!["content"], Is.EqualTo("맑음 21°C"));
        Assert.That((string?)m[3]!["tool_call_id"], Is.EqualTo("toolu_2"));
        Assert.That((string?)m[3]!["content"], Does.Contain("rain").And.StartWith("Error"));
        Assert.That((string?)m[4]!["content"], Is.EqualTo("Summarise."));
    }

    [Test]
    public void SamplingStopsMetadataAndStream_AreMapped()
    {
        var chat = MessagesToChatRequest.Translate(Req("""
            {"model":"claude-x","max_tokens":321,"temperature":0.2,"top_p":0.9,"top_k":40,"stop_sequences":["END","###"],
             "metadata":{"user_id":"u-1"},"stream":true,"messages":[{"role":"user","content":"x"}]}
            """), new ChatTranslationOptions { UpstreamModel = "qwen" });
        Assert.That((string?)chat["model"], Is.EqualTo("qwen"));
        Assert.That((int?)chat["max_tokens"], Is.EqualTo(321));
        Assert.That((double?)chat["temperature"], Is.EqualTo(0.2));
        Assert.That((double?)chat["top_p"], Is.EqualTo(0.9));
        Assert.That((int?)chat["top_k"], Is.EqualTo(40));
        Assert.That(chat["stop"]!.AsArray().Select(s => (string?)s), Is.EqualTo(new[] { "END", "###" }));
        Assert.That((string?)chat["user"], Is.EqualTo("u-1"));
        Assert.That((bool?)chat["stream"], Is.True);
        Assert.That((bool?)chat["stream_options"]!["include_usage"], Is.True);
        Assert.That(chat.ContainsKey("metadata") || chat.ContainsKey("stop_sequences") || chat.ContainsKey("system"), Is.False);
    }

    [Test]
    public void OpenAiUpstream_GetsMaxCompletionTokensAndNoTopK()
    {
        var chat = MessagesToChatRequest.Translate(Req("""{"model":"m","max_tokens":5,"top_k":3,"messages":[{"role":"user","content":"x"}]}"""),
            new ChatTranslationOptions { PassTopK = false, MaxTokensField = "max_completion_tokens" });
        Assert.That((int?)chat["max_completion_tokens"], Is.EqualTo(5));
        Assert.That(chat.ContainsKey("max_tokens"), Is.False);
        Assert.That(chat.ContainsKey("top_k"), Is.False);
    }

    [Test]
    public void UnknownVllmExtras_PassThrough()
    {
        var chat = MessagesToChatRequest.Translate(Req("""{"model":"m","max_tokens":5,"guided_json":{"type":"object"},"messages":[{"role":"user","content":"x"}]}"""));
        Assert.That(chat["guided_json"], Is.Not.Null);
    }

    [Test]
    public void ServerTool_IsRejectedWithClearMessage()
    {
        var ex = Assert.Throws<AnthropicTranslationException>(() => MessagesToChatRequest.Translate(Req("""
            {"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}
            """)));
        Assert.That(ex!.Message, Does.Contain("web_search_20250305"));
    }

    [Test]
    public void KoreanText_IsSerializedAsUtf8NotEscaped()
    {
        var chat = MessagesToChatRequest.Translate(Req("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"서울 날씨 알려줘"}]}"""));
        var json = Encoding.UTF8.GetString(AnthropicJson.ToUtf8(chat));
        Assert.That(json, Does.Contain("서울 날씨 알려줘"));
    }
}
