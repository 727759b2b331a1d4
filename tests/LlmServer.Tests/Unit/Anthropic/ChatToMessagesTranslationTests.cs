using System.Buffers;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Streaming;

namespace LlmServer.Tests.Unit.Anthropic;

[TestFixture]
public sealed class ChatToMessagesResponseTests
{
    private static JsonObject Completion(string message, string finish, string usage = """{"prompt_tokens":100,"completion_tokens":7,"total_tokens":107,"prompt_tokens_details":{"cached_tokens":40}}""", string extraChoice = "") =>
        (JsonObject)JsonNode.Parse($$"""
            {"id":"chatcmpl-abc123","object":"chat.completion","created":1,"model":"upstream-model",
             "choices":[{"index":0,"message":{{message}},"finish_reason":"{{finish}}"{{extraChoice}}}],"usage":{{usage}}}
            """)!;

    [Test]
    public void Text_BecomesTextBlockWithUsageAndDerivedId()
    {
        var msg = ChatToMessagesResponse.Translate(Completion("""{"role":"assistant","content":"안녕하세요"}""", "stop"), "claude-like");
        Assert.That((string?)msg["id"], Is.EqualTo("msg_abc123"));
        Assert.That((string?)msg["type"], Is.EqualTo("message"));
        Assert.That((string?)msg["role"], Is.EqualTo("assistant"));
        Assert.That((string?)msg["model"], Is.EqualTo("claude-like"));
        Assert.That((string?)msg["content"]![0]!["type"], Is.EqualTo("text"));
        Assert.That((string?)msg["content"]![0]!["text"], Is.EqualTo("안녕하세요"));
        Assert.That((string?)msg["stop_reason"], Is.EqualTo("end_turn"));
        Assert.That(msg["stop_sequence"], Is.Null);
        Assert.That((long?)msg["usage"]!["input_tokens"], Is.EqualTo(60), "input_tokens excludes cache reads");
        Assert.That((long?)msg["usage"]!["cache_read_input_tokens"], Is.EqualTo(40));
        Assert.That((long?)msg["usage"]!["output_tokens"], Is.EqualTo(7));
    }

    [Test]
    public void ToolCalls_BecomeToolUseBlocksWithParsedInput()
    {
        var msg = ChatToMessagesResponse.Translate(Completion("""
            {"role":"assistant","content":"Let me check.","tool_calls":[
              {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"서울\"}"}},
              {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]}
            """, "tool_calls"));
        var content = (JsonArray)msg["content"]!;
        Assert.That(content.Select(b => (string?)b!["type"]), Is.EqualTo(new[] { "text", "tool_use", "tool_use" }));
        Assert.That((string?)content[1]!["id"], Is.EqualTo("call_1"));
        Assert.That((string?)content[1]!["name"], Is.EqualTo("get_weather"));
        Assert.That((string?)content[1]!["input"]!["city"], Is.EqualTo("서울"));
        Assert.That(content[2]!["input"], Is.TypeOf<JsonObject>());
        Assert.That((string?)msg["stop_reason"], Is.EqualTo("tool_use"));
    }

    [TestCase("stop", "end_turn")]
    [TestCase("length", "max_tokens")]
    [TestCase("tool_calls", "tool_use")]
    [TestCase("function_call", "tool_use")]
    [TestCase("content_filter", "stop_sequence")]
    public void FinishReason_MapsToStopReason(string finish, string stop)
    {
        var msg = ChatToMessagesResponse.Translate(Completion("""{"role":"assistant","content":"x"}""", finish));
        Assert.That((string?)msg["stop_reason"], Is.EqualTo(stop));
    }

    [Test]
    public void VllmMatchedStopString_GivesStopSequence()
    {
        var msg = ChatToMessagesResponse.Translate(Completion("""{"role":"assistant","content":"x"}""", "stop", extraChoice: ""","stop_reason":"END" """),
            stopSequences: new JsonArray("END", "###"));
        Assert.That((string?)msg["stop_reason"], Is.EqualTo("stop_sequence"));
        Assert.That((string?)msg["stop_sequence"], Is.EqualTo("END"));
    }

    [Test]
    public void ReasoningContent_BecomesThinkingBlockBeforeText()
    {
        var msg = ChatToMessagesResponse.Translate(Completion("""{"role":"assistant","content":"42","reasoning_content":"think"}""", "stop"));
        Assert.That(msg["content"]!.AsArray().Select(b => (string?)b!["type"]), Is.EqualTo(new[] { "thinking", "text" }));
        Assert.That((string?)msg["content"]![0]!["thinking"], Is.EqualTo("think"));
    }
}

[TestFixture]
public sealed class ChatChunksToMessagesStreamTests
{
    private static string Chunk(string delta, string? finish = null) =>
        $$"""{"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{{delta}},"finish_reason":{{(finish is null ? "null" : "\"" + finish + "\"")}}}]}""";

    private const string UsageChunk = """{"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":9,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":10}}}""";

    private static List<(string? Event, string Data)> Run(params string[] chunks)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var converter = new ChatChunksToMessagesStream(new SseFrameWriter(buffer), "my-model");
        foreach (var c in chunks) converter.OnChunk((JsonObject)JsonNode.Parse(c)!);
        converter.Complete();
        var frames = SseTestFrames.Parse(buffer);
        foreach (var (evt, data) in frames) Assert.That((string?)SseTestFrames.Json(data)["type"], Is.EqualTo(evt), "event name equals data.type");
        return frames;
    }

    [Test]
    public void TextOnly_EmitsEventsInAnthropicOrder()
    {
        var frames = Run(Chunk("""{"role":"assistant","content":""}"""), Chunk("""{"content":"Echo: "}"""), Chunk("""{"content":"안녕"}"""),
            Chunk("{}", "stop"), UsageChunk);
        Assert.That(frames.Select(f => f.Event), Is.EqualTo(new[]
        {
            "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
        }));
        var start = SseTestFrames.Json(frames[0].Data)["message"]!;
        Assert.That((string?)start["id"], Is.EqualTo("msg_s1"));
        Assert.That((string?)start["model"], Is.EqualTo("my-model"));
        Assert.That(start["content"]!.AsArray(), Is.Empty);
        Assert.That(start["stop_reason"], Is.Null);
        Assert.That((string?)SseTestFrames.Json(frames[1].Data)["content_block"]!["type"], Is.EqualTo("text"));
        var text = string.Concat(frames.Where(f => f.Event == "content_block_delta").Select(f => (string?)SseTestFrames.Json(f.Data)["delta"]!["text"]));
        Assert.That(text, Is.EqualTo("Echo: 안녕"));
        var delta = SseTestFrames.Json(frames[6].Data);
        Assert.That((string?)delta["delta"]!["stop_reason"], Is.EqualTo("end_turn"));
        Assert.That((long?)delta["usage"]!["output_tokens"], Is.EqualTo(9));
        Assert.That((long?)delta["usage"]!["input_tokens"], Is.EqualTo(20));
        Assert.That((long?)delta["usage"]!["cache_read_input_tokens"], Is.EqualTo(10));
    }

    [Test]
    public void TextThenTwoToolCalls_OpenOneBlockEachInOrder()
    {
        var frames = Run(
            Chunk("""{"role":"assistant","content":"Checking"}"""),
            Chunk("""{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}"""),
            Chunk("""{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"""),
            Chunk("""{"tool_calls":[{"index":0,"function":{"arguments":"\"Seoul\"}"}}]}"""),
            Chunk("""{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"KST\"}"}}]}"""),
            Chunk("{}", "tool_calls"), UsageChunk);
        Assert.That(frames.Select(f => f.Event), Is.EqualTo(new[]
        {
            "message_start",
            "content_block_start", "ping", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop",
        }));
        var starts = frames.Where(f => f.Event == "content_block_start").Select(f => SseTestFrames.Json(f.Data)).ToList();
        Assert.That(starts.Select(s => (int?)s["index"]), Is.EqualTo(new int?[] { 0, 1, 2 }));
        Assert.That((string?)starts[1]["content_block"]!["id"], Is.EqualTo("call_a"));
        Assert.That((string?)starts[1]["content_block"]!["name"], Is.EqualTo("get_weather"));
        Assert.That((string?)starts[2]["content_block"]!["name"], Is.EqualTo("get_time"));
        string Json(int index) => string.Concat(frames.Where(f => f.Event == "content_block_delta")
            .Select(f => SseTestFrames.Json(f.Data)).Where(d => (int?)d["index"] == index).Select(d => (string?)d["delta"]!["partial_json"]));
        Assert.That((string?)JsonNode.Parse(Json(1))!["city"], Is.EqualTo("Seoul"));
        Assert.That((string?)JsonNode.Parse(Json(2))!["tz"], Is.EqualTo("KST"));
        Assert.That((string?)SseTestFrames.Json(frames[^2].Data)["delta"]!["stop_reason"], Is.EqualTo("tool_use"));
    }

    [Test]
    public void ReasoningContent_StreamsAsThinkingBlockThenText()
    {
        var frames = Run(Chunk("""{"reasoning_content":"hmm"}"""), Chunk("""{"content":"ok"}"""), Chunk("{}", "stop"));
        var starts = frames.Where(f => f.Event == "content_block_start").Select(f => (string?)SseTestFrames.Json(f.Data)["content_block"]!["type"]);
        Assert.That(starts, Is.EqualTo(new[] { "thinking", "text" }));
        var thinking = frames.Select(f => SseTestFrames.Json(f.Data)).First(d => (string?)d["delta"]?["type"] == "thinking_delta");
        Assert.That((string?)thinking["delta"]!["thinking"], Is.EqualTo("hmm"));
    }

    [Test]
    public void LengthFinish_GivesMaxTokens()
    {
        var frames = Run(Chunk("""{"content":"abc"}"""), Chunk("{}", "length"));
        Assert.That((string?)SseTestFrames.Json(frames[^2].Data)["delta"]!["stop_reason"], Is.EqualTo("max_tokens"));
    }

    [Test]
    public void Fail_WritesAnthropicErrorEventAndNothingAfter()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var converter = new ChatChunksToMessagesStream(new SseFrameWriter(buffer));
        converter.OnChunk((JsonObject)JsonNode.Parse(Chunk("""{"content":"par"}"""))!);
        converter.Fail("api_error", "upstream lost");
        converter.Complete();
        var frames = SseTestFrames.Parse(buffer);
        Assert.That(frames[^1].Event, Is.EqualTo("error"));
        var error = SseTestFrames.Json(frames[^1].Data);
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("api_error"));
        Assert.That((string?)error["error"]!["message"], Is.EqualTo("upstream lost"));
        Assert.That(frames.Any(f => f.Event == "message_stop"), Is.False);
    }

    [Test]
    public void EmptyStream_StillYieldsAValidMessage()
    {
        var frames = Run(Chunk("{}", "stop"));
        Assert.That(frames.Select(f => f.Event), Is.EqualTo(new[] { "message_start", "content_block_start", "ping", "content_block_stop", "message_delta", "message_stop" }));
    }
}
