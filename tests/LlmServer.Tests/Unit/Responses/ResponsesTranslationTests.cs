using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Streaming;
using LlmServer.Services.Responses;

namespace LlmServer.Tests.Unit.Responses;

/// <summary>The pure Responses ⇄ chat completions translators.</summary>
[TestFixture]
public sealed class ResponsesTranslationTests
{
    private static JsonObject Parse(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Test]
    public void Request_InstructionsAndItems_BecomeChatMessagesInOrder_WithToolCallsJoinedAndToolResults()
    {
        var chat = ResponsesToChatRequest.Translate(Parse("""
            {"model":"m","instructions":"be brief","input":[
              {"role":"developer","content":"house rules"},
              {"type":"message","role":"user","content":[{"type":"input_text","text":"look "},{"type":"input_text","text":"here"}]},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"calling"}]},
              {"type":"function_call","call_id":"c1","name":"a","arguments":"{\"x\":1}"},
              {"type":"function_call","call_id":"c2","name":"b","arguments":"{}"},
              {"type":"reasoning","id":"rs_1","summary":[]},
              {"type":"function_call_output","call_id":"c1","output":"one"},
              {"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"two"}]}
            ]}
            """));

        var messages = chat["messages"]!.AsArray();
        Assert.That(messages.Select(m => (string?)m!["role"]), Is.EqualTo(new[] { "system", "system", "user", "assistant", "tool", "tool" }));
        Assert.That((string?)messages[0]!["content"], Is.EqualTo("be brief"));
        Assert.That((string?)messages[2]!["content"], Is.EqualTo("look here"));
        Assert.That((string?)messages[3]!["content"], Is.EqualTo("calling"));
        var calls = messages[3]!["tool_calls"]!.AsArray();
        Assert.That(calls.Select(c => (string?)c!["id"]), Is.EqualTo(new[] { "c1", "c2" }));
        Assert.That((string?)calls[0]!["function"]!["arguments"], Is.EqualTo("{\"x\":1}"));
        Assert.That((string?)messages[4]!["tool_call_id"], Is.EqualTo("c1"));
        Assert.That((string?)messages[5]!["content"], Is.EqualTo("two"));
    }

    [Test]
    public void Request_Settings_MapToTheirChatNames_AndResponsesOnlyFieldsAreNotSent()
    {
        var chat = ResponsesToChatRequest.Translate(Parse("""
            {"model":"m","input":"hi","stream":true,"store":true,"previous_response_id":"resp_1","include":["x"],"truncation":"auto",
             "max_output_tokens":77,"temperature":0.2,"top_p":0.9,"user":"u1","reasoning":{"effort":"low","summary":"auto"},
             "text":{"format":{"type":"json_schema","name":"answer","schema":{"type":"object"},"strict":true}},
             "tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":true},{"type":"web_search"}],
             "tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false,"top_k":5}
            """));

        Assert.That((long?)chat["max_tokens"], Is.EqualTo(77));
        Assert.That((double?)chat["temperature"], Is.EqualTo(0.2));
        Assert.That((double?)chat["top_p"], Is.EqualTo(0.9));
        Assert.That((string?)chat["user"], Is.EqualTo("u1"));
        Assert.That((string?)chat["reasoning_effort"], Is.EqualTo("low"));
        Assert.That((bool?)chat["stream"], Is.True);
        Assert.That((bool?)chat["stream_options"]!["include_usage"], Is.True);
        Assert.That((string?)chat["response_format"]!["type"], Is.EqualTo("json_schema"));
        Assert.That((string?)chat["response_format"]!["json_schema"]!["name"], Is.EqualTo("answer"));
        Assert.That((bool?)chat["response_format"]!["json_schema"]!["strict"], Is.True);
        var tools = chat["tools"]!.AsArray();
        Assert.That(tools, Has.Count.EqualTo(1), "hosted tools exist only at OpenAI");
        Assert.That((string?)tools[0]!["function"]!["name"], Is.EqualTo("f"));
        Assert.That((string?)tools[0]!["function"]!["description"], Is.EqualTo("d"));
        Assert.That((string?)chat["tool_choice"]!["function"]!["name"], Is.EqualTo("f"));
        Assert.That((bool?)chat["parallel_tool_calls"], Is.False);
        Assert.That((long?)chat["top_k"], Is.EqualTo(5), "an upstream's own extras pass");
        foreach (var gone in new[] { "input", "store", "previous_response_id", "include", "truncation", "max_output_tokens", "reasoning", "text" })
        {
            Assert.That(chat.ContainsKey(gone), Is.False, gone);
        }
    }

    [Test]
    public void Request_UserImage_BecomesAnImagePart()
    {
        var chat = ResponsesToChatRequest.Translate(Parse("""
            {"input":[{"role":"user","content":[{"type":"input_text","text":"what is this"},{"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"}]}]}
            """));

        var parts = chat["messages"]![0]!["content"]!.AsArray();
        Assert.That((string?)parts[0]!["type"], Is.EqualTo("text"));
        Assert.That((string?)parts[1]!["image_url"]!["url"], Is.EqualTo("data:image/png;base64,AAAA"));
        Assert.That((string?)parts[1]!["image_url"]!["detail"], Is.EqualTo("low"));
    }

    [TestCase("""{"input":[{"type":"computer_call","call_id":"x"}]}""", "computer_call")]
    [TestCase("""{"input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}""", "input_file")]
    [TestCase("""{"input":[{"role":"tool","content":"x"}]}""", "role 'tool'")]
    [TestCase("""{"input":[]}""", "must not be empty")]
    [TestCase("""{"input":42}""", "string or an array")]
    public void Request_ThatChatCannotCarry_IsRefusedNamingTheInput(string json, string said)
    {
        var e = Assert.Throws<ResponsesTranslationException>(() => ResponsesToChatRequest.Translate(Parse(json)));

        Assert.That(e!.Message, Does.Contain(said));
        Assert.That(e.Param, Is.EqualTo("input"));
    }

    [Test]
    public void Completion_BecomesAResponseObject_WithMessageAndFunctionCallItems_AndUsage()
    {
        var request = Parse("""{"model":"public-name","input":"hi","instructions":"sys","max_output_tokens":50,"tools":[{"type":"function","name":"f"}]}""");
        var completion = Parse("""{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"upstream-name","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"let me check","tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{\"q\":1}"}}]}}],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":1}}}""");

        var response = ChatToResponsesResponse.Translate(completion, request, "resp_abc", 1700000000);

        Assert.That((string?)response["id"], Is.EqualTo("resp_abc"));
        Assert.That((string?)response["object"], Is.EqualTo("response"));
        Assert.That((string?)response["status"], Is.EqualTo("completed"));
        Assert.That((string?)response["model"], Is.EqualTo("public-name"), "the client's model name, not the upstream's");
        Assert.That((string?)response["instructions"], Is.EqualTo("sys"));
        Assert.That((long?)response["max_output_tokens"], Is.EqualTo(50));
        var output = response["output"]!.AsArray();
        Assert.That((string?)output[0]!["type"], Is.EqualTo("message"));
        Assert.That((string?)output[0]!["content"]![0]!["text"], Is.EqualTo("let me check"));
        Assert.That((string?)output[1]!["type"], Is.EqualTo("function_call"));
        Assert.That((string?)output[1]!["call_id"], Is.EqualTo("call_9"));
        Assert.That((string?)output[1]!["name"], Is.EqualTo("f"));
        Assert.That((string?)output[1]!["arguments"], Is.EqualTo("{\"q\":1}"));
        var usage = response["usage"]!;
        Assert.That((long?)usage["input_tokens"], Is.EqualTo(10));
        Assert.That((long?)usage["input_tokens_details"]!["cached_tokens"], Is.EqualTo(3));
        Assert.That((long?)usage["output_tokens"], Is.EqualTo(4));
        Assert.That((long?)usage["output_tokens_details"]!["reasoning_tokens"], Is.EqualTo(1));
        Assert.That((long?)usage["total_tokens"], Is.EqualTo(14));
    }

    [Test]
    public void Completion_CutByTheTokenLimit_IsIncomplete_WithItsReason()
    {
        var completion = Parse("""{"choices":[{"finish_reason":"length","message":{"role":"assistant","content":"half"}}]}""");

        var response = ChatToResponsesResponse.Translate(completion, Parse("""{"input":"x"}"""), "resp_1", 1);

        Assert.That((string?)response["status"], Is.EqualTo("incomplete"));
        Assert.That((string?)response["incomplete_details"]!["reason"], Is.EqualTo("max_output_tokens"));
    }

    [Test]
    public void Stream_TextThenToolCall_EachItemDoneBeforeTheNext_AndTheFinalResponseHasBoth()
    {
        var (events, final) = Convert(
            """{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}""",
            """{"choices":[{"index":0,"delta":{"content":"Hel"}}]}""",
            """{"choices":[{"index":0,"delta":{"content":"lo"}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"2}"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}""",
            """{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}""");

        Assert.That(events.Select(e => (string)e["type"]!), Is.EqualTo(new[]
        {
            "response.created", "response.in_progress",
            "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done", "response.completed",
        }));
        Assert.That(events.Select(e => (int)e["sequence_number"]!), Is.EqualTo(Enumerable.Range(0, events.Count)));
        Assert.That((string?)events[6]["text"], Is.EqualTo("Hello"));
        Assert.That((int?)events[9]["output_index"], Is.EqualTo(1));
        Assert.That((string?)events[9]["item"]!["call_id"], Is.EqualTo("call_1"));
        Assert.That((string?)events[12]["arguments"], Is.EqualTo("{\"a\":2}"));
        Assert.That((string?)events[12]["name"], Is.EqualTo("f"));
        Assert.That((string?)events[4]["item_id"], Is.EqualTo((string?)events[2]["item"]!["id"]));
        Assert.That((string?)events[10]["item_id"], Is.EqualTo((string?)events[9]["item"]!["id"]));
        Assert.That((string?)final["output"]![0]!["content"]![0]!["text"], Is.EqualTo("Hello"));
        Assert.That((string?)final["output"]![1]!["arguments"], Is.EqualTo("{\"a\":2}"));
        Assert.That((long?)final["usage"]!["output_tokens"], Is.EqualTo(7));
        Assert.That(events[^1]["response"]!.ToJsonString(), Is.EqualTo(final.ToJsonString()));
    }

    [Test]
    public void Completion_WithReasoning_LeadsWithAReasoningItem()
    {
        var completion = Parse("""{"choices":[{"finish_reason":"stop","message":{"role":"assistant","reasoning_content":"think first","content":"answer"}}]}""");

        var response = ChatToResponsesResponse.Translate(completion, Parse("""{"model":"m","input":"x"}"""), "resp_1", 1);

        var output = response["output"]!.AsArray();
        Assert.That((string?)output[0]!["type"], Is.EqualTo("reasoning"));
        Assert.That((string?)output[0]!["content"]![0]!["text"], Is.EqualTo("think first"));
        Assert.That((string?)output[1]!["content"]![0]!["text"], Is.EqualTo("answer"));
        AssertMatchesSpec("Response", response);
    }

    [Test]
    public void Stream_ReasoningThenText_IsAReasoningItemThenAMessage_EveryEventInOpenAisSchema()
    {
        var (events, final) = Convert(
            """{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hmm "}}]}""",
            """{"choices":[{"index":0,"delta":{"reasoning_content":"yes"}}]}""",
            """{"choices":[{"index":0,"delta":{"content":"ok"}}]}""",
            """{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");

        Assert.That(events.Select(e => (string)e["type"]!), Is.EqualTo(new[]
        {
            "response.created", "response.in_progress",
            "response.output_item.added", "response.content_part.added", "response.reasoning_text.delta", "response.reasoning_text.delta",
            "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.content_part.added", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
        }));
        Assert.That((string?)events[6]["text"], Is.EqualTo("hmm yes"));
        Assert.That((string?)final["output"]![0]!["type"], Is.EqualTo("reasoning"));
        Assert.That((string?)final["output"]![1]!["content"]![0]!["text"], Is.EqualTo("ok"));
        foreach (var e in events) AssertMatchesSpec("ResponseStreamEvent", e);
    }

    [Test]
    public void Stream_ErrorChunk_EndsWithTheErrorEvent_AndNoCompletion()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var converter = new ChatChunksToResponsesEvents(new SseFrameWriter(buffer), Parse("""{"input":"x"}"""), "resp_1", 1);
        converter.OnChunk(Parse("""{"choices":[{"index":0,"delta":{"content":"par"}}]}"""));
        converter.OnChunk(Parse("""{"error":{"message":"upstream broke","type":"server_error","code":"upstream_disconnected"}}"""));

        var events = Events(buffer);
        Assert.That(converter.Finished, Is.True);
        Assert.That((string?)events[^1]["type"], Is.EqualTo("error"));
        Assert.That((string?)events[^1]["code"], Is.EqualTo("upstream_disconnected"));
        Assert.That((string?)events[^1]["message"], Is.EqualTo("upstream broke"));
        Assert.That(events.Any(e => (string?)e["type"] == "response.completed"), Is.False);
    }

    [Test]
    public void StoredConversation_ContinuesWithHistoryThenOutputThenTheNewInput_AndRoundTripsItsJson()
    {
        var first = Parse("""{"model":"m","input":"my name is Minji","instructions":"old"}""");
        var response = ChatToResponsesResponse.Translate(Parse("""{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"hello Minji"}}]}"""), first, "resp_1", 1);
        var stored = StoredConversation.Parse(StoredConversation.Of(first, response).ToJson())!;

        var next = stored.Continue(Parse("""{"model":"m","input":"what is my name?","previous_response_id":"resp_1"}"""));

        var input = next["input"]!.AsArray();
        Assert.That(input, Has.Count.EqualTo(3));
        Assert.That((string?)input[0]!["content"], Is.EqualTo("my name is Minji"));
        Assert.That((string?)input[1]!["content"]![0]!["text"], Is.EqualTo("hello Minji"));
        Assert.That((string?)input[2]!["content"], Is.EqualTo("what is my name?"));
        Assert.That(next.ContainsKey("instructions"), Is.False, "instructions are not carried over");
        Assert.That((string?)stored.Response["id"], Is.EqualTo("resp_1"));
        var chat = ResponsesToChatRequest.Translate(next);
        Assert.That(chat["messages"]!.AsArray().Select(m => (string?)m!["role"]), Is.EqualTo(new[] { "user", "assistant", "user" }));
    }

    private static void AssertMatchesSpec(string schema, JsonNode node)
    {
        if (!Conformance.OpenApiSpec.Available) return;
        Assert.That(Conformance.OpenApiSpec.Validate(schema, node), Is.Empty, node.ToJsonString());
    }

    private static (List<JsonNode> Events, JsonObject Final) Convert(params string[] chunks)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var converter = new ChatChunksToResponsesEvents(new SseFrameWriter(buffer), Parse("""{"model":"m","input":"x"}"""), "resp_1", 1);
        foreach (var chunk in chunks) converter.OnChunk(Parse(chunk));
        var final = converter.Finish();
        var text = final.ToJsonString();
        converter.WriteCompleted(final);
        return (Events(buffer), Parse(text));
    }

    private static List<JsonNode> Events(ArrayBufferWriter<byte> buffer)
    {
        var events = new List<JsonNode>();
        foreach (var block in Encoding.UTF8.GetString(buffer.WrittenSpan).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            var node = JsonNode.Parse(lines.Single(l => l.StartsWith("data: ", StringComparison.Ordinal))[6..])!;
            Assert.That(lines[0], Is.EqualTo("event: " + (string?)node["type"]));
            events.Add(node);
        }
        return events;
    }
}
