using System.Buffers;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Streaming;

namespace LlmServer.Tests.Unit.Anthropic;

[TestFixture]
public sealed class ChatToMessagesRequestTests
{
    private static JsonObject Req(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Test]
    public void SystemAndDeveloperMessages_BecomeSystemField()
    {
        var r = ChatToMessagesRequest.Translate(Req("""
            {"model":"claude-x","messages":[{"role":"system","content":"S1"},{"role":"developer","content":"S2"},{"role":"user","content":"hi"}]}
            """));
        Assert.That((string?)r["system"], Is.EqualTo("S1\n\nS2"));
        Assert.That(r["messages"]!.AsArray().Count, Is.EqualTo(1));
        Assert.That((string?)r["messages"]![0]!["content"]![0]!["text"], Is.EqualTo("hi"));
        Assert.That((long?)r["max_tokens"], Is.EqualTo(ChatToMessagesRequest.DefaultMaxTokens));
    }

    [Test]
    public void ToolCallsAndToolMessages_BecomeToolUseAndMergedToolResults()
    {
        var r = ChatToMessagesRequest.Translate(Req("""
            {"model":"claude-x","max_tokens":50,"messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":null,"tool_calls":[
                 {"id":"call_1","type":"function","function":{"name":"w","arguments":"{\"city\":\"Seoul\"}"}},
                 {"id":"call_2","type":"function","function":{"name":"w","arguments":"{\"city\":\"Busan\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"sunny"},
              {"role":"tool","tool_call_id":"call_2","content":"rain"},
              {"role":"user","content":"thanks"}],
             "tools":[{"type":"function","function":{"name":"w","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "tool_choice":"required","parallel_tool_calls":false}
            """));
        var m = r["messages"]!.AsArray();
        Assert.That(m.Select(x => (string?)x!["role"]), Is.EqualTo(new[] { "user", "assistant", "user" }));
        var uses = m[1]!["content"]!.AsArray();
        Assert.That(uses.Select(b => (string?)b!["type"]), Is.EqualTo(new[] { "tool_use", "tool_use" }));
        Assert.That((string?)uses[1]!["input"]!["city"], Is.EqualTo("Busan"));
        var results = m[2]!["content"]!.AsArray();
        Assert.That(results.Select(b => (string?)b!["type"]), Is.EqualTo(new[] { "tool_result", "tool_result", "text" }));
        Assert.That((string?)results[0]!["tool_use_id"], Is.EqualTo("call_1"));
        Assert.That((string?)results[1]!["content"], Is.EqualTo("rain"));
        Assert.That((string?)r["tools"]![0]!["input_schema"]!["type"], Is.EqualTo("object"));
        Assert.That((string?)r["tool_choice"]!["type"], Is.EqualTo("any"));
        Assert.That((bool?)r["tool_choice"]!["disable_parallel_tool_use"], Is.True);
    }

    [Test]
    public void ImagesStopsSamplingAndUser_AreMapped()
    {
        var r = ChatToMessagesRequest.Translate(Req("""
            {"model":"claude-x","max_completion_tokens":77,"temperature":1.5,"top_p":0.5,"stop":"END","user":"u9","stream":true,
             "messages":[{"role":"user","content":[{"type":"text","text":"look"},
               {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
               {"type":"image_url","image_url":{"url":"https://x/y.jpg"}}]}]}
            """));
        var blocks = r["messages"]![0]!["content"]!.AsArray();
        Assert.That((string?)blocks[1]!["source"]!["type"], Is.EqualTo("base64"));
        Assert.That((string?)blocks[1]!["source"]!["media_type"], Is.EqualTo("image/png"));
        Assert.That((string?)blocks[1]!["source"]!["data"], Is.EqualTo("iVBOR"));
        Assert.That((string?)blocks[2]!["source"]!["url"], Is.EqualTo("https://x/y.jpg"));
        Assert.That((long?)r["max_tokens"], Is.EqualTo(77));
        Assert.That((double?)r["temperature"], Is.EqualTo(1.0), "Anthropic's temperature range ends at 1");
        Assert.That(r["stop_sequences"]!.AsArray().Select(s => (string?)s), Is.EqualTo(new[] { "END" }));
        Assert.That((string?)r["metadata"]!["user_id"], Is.EqualTo("u9"));
        Assert.That((bool?)r["stream"], Is.True);
    }
}

[TestFixture]
public sealed class MessagesToChatResponseTests
{
    [TestCase("end_turn", "stop")]
    [TestCase("max_tokens", "length")]
    [TestCase("tool_use", "tool_calls")]
    [TestCase("stop_sequence", "stop")]
    public void StopReason_MapsToFinishReason(string stop, string finish)
    {
        var r = MessagesToChatResponse.Translate((JsonObject)JsonNode.Parse(
            """{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"x"}],"stop_reason":""" + "\"" + stop + "\"" + ""","usage":{"input_tokens":1,"output_tokens":1}}""")!);
        Assert.That((string?)r["choices"]![0]!["finish_reason"], Is.EqualTo(finish));
    }

    [Test]
    public void TextToolUseAndUsage_BecomeChatCompletion()
    {
        var r = MessagesToChatResponse.Translate((JsonObject)JsonNode.Parse("""
            {"id":"msg_abc","type":"message","role":"assistant","model":"claude-x",
             "content":[{"type":"text","text":"네, "},{"type":"text","text":"확인합니다"},{"type":"tool_use","id":"toolu_1","name":"w","input":{"city":"서울"}}],
             "stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":4,"cache_creation_input_tokens":2}}
            """)!, "alias-model");
        Assert.That((string?)r["id"], Is.EqualTo("chatcmpl-abc"));
        Assert.That((string?)r["object"], Is.EqualTo("chat.completion"));
        Assert.That((string?)r["model"], Is.EqualTo("alias-model"));
        var message = r["choices"]![0]!["message"]!;
        Assert.That((string?)message["content"], Is.EqualTo("네, 확인합니다"));
        Assert.That((string?)message["tool_calls"]![0]!["id"], Is.EqualTo("toolu_1"));
        Assert.That((string?)JsonNode.Parse((string)message["tool_calls"]![0]!["function"]!["arguments"]!)!["city"], Is.EqualTo("서울"));
        Assert.That((long?)r["usage"]!["prompt_tokens"], Is.EqualTo(16));
        Assert.That((long?)r["usage"]!["completion_tokens"], Is.EqualTo(5));
        Assert.That((long?)r["usage"]!["total_tokens"], Is.EqualTo(21));
        Assert.That((long?)r["usage"]!["prompt_tokens_details"]!["cached_tokens"], Is.EqualTo(4));
    }
}

[TestFixture]
public sealed class MessagesEventsToChatChunksTests
{
    private static readonly string[] s_toolStream =
    [
        """{"type":"message_start","message":{"id":"msg_7","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}""",
        """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""",
        """{"type":"ping"}""",
        """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"잠시만"}}""",
        """{"type":"content_block_stop","index":0}""",
        """{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"w","input":{}}}""",
        """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}""",
        """{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Seoul\"}"}}""",
        """{"type":"content_block_stop","index":1}""",
        """{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}""",
        """{"type":"message_stop"}""",
    ];

    [Test]
    public void ToolStream_BecomesChunksEndingWithDone()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var converter = new MessagesEventsToChatChunks(new SseFrameWriter(buffer), includeUsage: true);
        foreach (var e in s_toolStream) converter.OnEvent((JsonObject)JsonNode.Parse(e)!);
        var frames = SseTestFrames.Parse(buffer);
        Assert.That(frames.All(f => f.Event is null), Is.True, "OpenAI chunks have no event names");
        Assert.That(frames[^1].Data, Is.EqualTo("[DONE]"));
        var chunks = frames.Take(frames.Count - 1).Select(f => SseTestFrames.Json(f.Data)).ToList();
        Assert.That(chunks.All(c => (string?)c["object"] == "chat.completion.chunk" && (string?)c["id"] == "chatcmpl-7"), Is.True);
        Assert.That((string?)chunks[0]["choices"]![0]!["delta"]!["role"], Is.EqualTo("assistant"));
        var text = string.Concat(chunks.Where(c => c["choices"]!.AsArray().Count > 0).Select(c => (string?)c["choices"]![0]!["delta"]!["content"]));
        Assert.That(text, Is.EqualTo("잠시만"));
        var toolDeltas = chunks.Where(c => c["choices"]!.AsArray().Count > 0 && c["choices"]![0]!["delta"]!["tool_calls"] is not null)
            .Select(c => c["choices"]![0]!["delta"]!["tool_calls"]![0]!).ToList();
        Assert.That((string?)toolDeltas[0]["id"], Is.EqualTo("toolu_9"));
        Assert.That((string?)toolDeltas[0]["function"]!["name"], Is.EqualTo("w"));
        Assert.That((string?)JsonNode.Parse(string.Concat(toolDeltas.Select(t => (string?)t["function"]!["arguments"])))!["city"], Is.EqualTo("Seoul"));
        var finish = chunks.Last(c => c["choices"]!.AsArray().Count > 0);
        Assert.That((string?)finish["choices"]![0]!["finish_reason"], Is.EqualTo("tool_calls"));
        var usage = chunks[^1];
        Assert.That(usage["choices"]!.AsArray(), Is.Empty);
        Assert.That((long?)usage["usage"]!["prompt_tokens"], Is.EqualTo(12));
        Assert.That((long?)usage["usage"]!["completion_tokens"], Is.EqualTo(20));
    }

    [Test]
    public void ErrorEvent_BecomesOpenAiErrorThenDone()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var converter = new MessagesEventsToChatChunks(new SseFrameWriter(buffer));
        converter.OnEvent((JsonObject)JsonNode.Parse(s_toolStream[0])!);
        converter.OnEvent((JsonObject)JsonNode.Parse("""{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""")!);
        var frames = SseTestFrames.Parse(buffer);
        Assert.That(frames[^1].Data, Is.EqualTo("[DONE]"));
        Assert.That((string?)SseTestFrames.Json(frames[^2].Data)["error"]!["message"], Is.EqualTo("Overloaded"));
    }
}

[TestFixture]
public sealed class AnthropicUsageScannerTests
{
    [Test]
    public void Stream_SplitAnywhere_ReadsStartAndFinalDeltaUsage()
    {
        var sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":11,\"cache_read_input_tokens\":4,\"output_tokens\":1}}}\n\n"
            + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n\n"
            + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":23}}\n\n";
        var bytes = System.Text.Encoding.UTF8.GetBytes(sse);
        for (var cut = 1; cut < bytes.Length; cut += 7)
        {
            var scanner = new AnthropicUsageScanner(stream: true);
            scanner.Feed(bytes.AsSpan(0, cut));
            scanner.Feed(bytes.AsSpan(cut));
            Assert.That(scanner.Usage, Is.EqualTo(new LlmServer.Services.Pricing.TokenUsage(15, 4, 23)), $"cut at {cut}");
        }
    }

    [Test]
    public void PlainBody_ReadsUsageAtComplete()
    {
        var scanner = new AnthropicUsageScanner(stream: false);
        scanner.Feed("{\"id\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":"u8);
        scanner.Feed("7}}"u8);
        scanner.Complete();
        Assert.That(scanner.Usage, Is.EqualTo(new LlmServer.Services.Pricing.TokenUsage(5, 0, 7)));
    }
}
