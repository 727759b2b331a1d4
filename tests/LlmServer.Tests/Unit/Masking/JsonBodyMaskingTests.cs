using System.Text.Json.Nodes;
using LlmServer.Services.Masking;
using static LlmServer.Tests.Unit.Masking.MaskingKit;

namespace LlmServer.Tests.Unit.Masking;

public sealed class JsonBodyMaskingTests
{
    private const string Secret = "i-1234567890abcdef0";

    /// <summary>Removes every user-content string so only structure remains, for comparing before and after.</summary>
    private static string WithoutValue(JsonNode body, string masked) => body.ToJsonString(Relaxed).Replace(masked, "X");

    private static readonly System.Text.Json.JsonSerializerOptions Relaxed =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [Test]
    public async Task AnthropicMessagesBody_MasksContentEverywhere_AndLeavesStructure()
    {
        var body = JsonNode.Parse("""
            {
              "model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
              "system": [{"type": "text", "text": "운영자 메일 ops@corp.kr", "cache_control": {"type": "ephemeral"}}],
              "metadata": {"user_id": "user-1"},
              "tools": [{"name": "describe_instance", "description": "Describe i-0000000000000000a",
                         "input_schema": {"type": "object", "properties": {"id": {"type": "string", "pattern": "^i-[0-9a-f]{17}$"}}}}],
              "messages": [
                {"role": "user", "content": "@SECRET@ 상태는?"},
                {"role": "assistant", "content": [
                  {"type": "thinking", "thinking": "check @SECRET@", "signature": "sig"},
                  {"type": "tool_use", "id": "toolu_01", "name": "describe_instance", "input": {"id": "@SECRET@", "tags": ["ops@corp.kr"], "n": 3}}]},
                {"role": "user", "content": [
                  {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "@SECRET@ running"}]},
                  {"type": "tool_result", "tool_use_id": "toolu_02", "content": "vpc-0a1b2c3d4e5f67890"},
                  {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AKIAIOSFODNN7EXAMPLE"}},
                  {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "runbook for @SECRET@"}, "title": "runbook"},
                  {"type": "text", "text": "확인"}]}
              ]
            }
            """.Replace("@SECRET@", Secret))!;
        var session = Session();
        var counts = await session.MaskJsonBodyAsync(body);
        var json = body.ToJsonString();

        Assert.That(counts[MaskingTypes.AwsEc2], Is.EqualTo(6), "text, thinking, tool input, tool result, text document, tool description");
        Assert.That(counts[MaskingTypes.Email], Is.EqualTo(2));
        Assert.That(counts[MaskingTypes.AwsVpc], Is.EqualTo(1));
        Assert.That(json, Does.Not.Contain(Secret).And.Not.Contain("ops@corp.kr").And.Not.Contain("vpc-0a1b2c3d4e5f67890"));
        Assert.That(body["messages"]![0]!["content"]!.GetValue<string>(), Is.EqualTo("<<AWS_EC2_1>> 상태는?"));
        Assert.That(body["messages"]![1]!["content"]![1]!["input"]!["id"]!.GetValue<string>(), Is.EqualTo("<<AWS_EC2_1>>"));
        Assert.That(body["messages"]![1]!["content"]![1]!["input"]!["n"]!.GetValue<int>(), Is.EqualTo(3));
        Assert.That(body["messages"]![1]!["content"]![1]!["name"]!.GetValue<string>(), Is.EqualTo("describe_instance"));
        Assert.That(body["messages"]![1]!["content"]![1]!["id"]!.GetValue<string>(), Is.EqualTo("toolu_01"));
        Assert.That(body["tools"]![0]!["description"]!.GetValue<string>(), Does.StartWith("Describe <<AWS_EC2_"), "the model reads tool descriptions");
        Assert.That(body["tools"]![0]!["name"]!.GetValue<string>(), Is.EqualTo("describe_instance"));
        Assert.That(body["tools"]![0]!["input_schema"]!["properties"]!["id"]!["pattern"]!.GetValue<string>(), Is.EqualTo("^i-[0-9a-f]{17}$"));
        Assert.That(json, Does.Contain("\"data\":\"AKIAIOSFODNN7EXAMPLE\""), "image data is not text");
        Assert.That(body["model"]!.GetValue<string>(), Is.EqualTo("claude-sonnet-4-5"));
        Assert.That(body["metadata"]!["user_id"]!.GetValue<string>(), Is.EqualTo("user-1"));
    }

    [Test]
    public async Task OpenAiChatBody_MasksContentPartsAndToolArguments_AndRestoresArguments()
    {
        var body = JsonNode.Parse("""
            {
              "model": "gpt-4o-mini", "temperature": 0.2, "top_k": 5,
              "messages": [
                {"role": "system", "content": "You help with AWS."},
                {"role": "user", "name": "kim", "content": [{"type": "text", "text": "@SECRET@ 재시작"}, {"type": "image_url", "image_url": {"url": "https://x/a@b.com"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                  "function": {"name": "restart", "arguments": "{\"instance\":\"@SECRET@\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "restarted @SECRET@"}
              ],
              "tools": [{"type": "function", "function": {"name": "restart", "parameters": {"type": "object"}}}],
              "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
            }
            """.Replace("@SECRET@", Secret))!;
        var before = body.DeepClone();
        var session = Session();
        var counts = await session.MaskJsonBodyAsync(body);

        Assert.That(counts[MaskingTypes.AwsEc2], Is.EqualTo(3));
        Assert.That(body.ToJsonString(), Does.Not.Contain(Secret));
        Assert.That(body["messages"]![2]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>(),
            Is.EqualTo("{\"instance\":\"<<AWS_EC2_1>>\"}"));
        Assert.That(body["messages"]![1]!["content"]![1]!["image_url"]!["url"]!.GetValue<string>(), Is.EqualTo("https://x/a@b.com"));
        Assert.That(WithoutValue(body, "<<AWS_EC2_1>>"), Is.EqualTo(WithoutValue(before, Secret)), "only the values changed");
        Assert.That(await session.RestoreAsync(body.ToJsonString(Relaxed), jsonEscaped: true), Is.EqualTo(before.ToJsonString(Relaxed)));
    }

    [Test]
    public async Task ResponsesAndCompletionsAndSessionBodies_AreMasked()
    {
        var responses = JsonNode.Parse("""
            {"model": "gpt-4.1", "instructions": "reply to a@b.com", "text": {"format": {"type": "text"}},
             "input": [{"role": "user", "content": [{"type": "input_text", "text": "call 010-1234-5678"}]},
                       {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"ip\":\"10.1.2.3\"}"},
                       {"type": "function_call_output", "call_id": "c1", "output": "10.1.2.3 ok"}]}
            """)!;
        var completions = JsonNode.Parse("""{"model": "m", "prompt": ["a@b.com", "plain"], "suffix": "x"}""")!;
        var chat = JsonNode.Parse("""{"request_id": "a@b.com", "user_prompt": "내 메일 a@b.com", "system_prompt": "s", "model": "gpt-4o-mini"}""")!;
        var plainInput = JsonNode.Parse("""{"model": "m", "input": "a@b.com"}""")!;
        var session = Session();

        await session.MaskJsonBodyAsync(responses);
        await session.MaskJsonBodyAsync(completions);
        await session.MaskJsonBodyAsync(chat);
        await session.MaskJsonBodyAsync(plainInput);

        Assert.That(responses["instructions"]!.GetValue<string>(), Is.EqualTo("reply to <<EMAIL_1>>"));
        Assert.That(responses["input"]![0]!["content"]![0]!["text"]!.GetValue<string>(), Is.EqualTo("call <<PHONE_1>>"));
        Assert.That(responses["input"]![1]!["arguments"]!.GetValue<string>(), Is.EqualTo("{\"ip\":\"<<IPV4_1>>\"}"));
        Assert.That(responses["input"]![2]!["output"]!.GetValue<string>(), Is.EqualTo("<<IPV4_1>> ok"));
        Assert.That(responses["text"]!.ToJsonString(), Is.EqualTo("""{"format":{"type":"text"}}"""));
        Assert.That(completions["prompt"]![0]!.GetValue<string>(), Is.EqualTo("<<EMAIL_1>>"));
        Assert.That(chat["user_prompt"]!.GetValue<string>(), Is.EqualTo("내 메일 <<EMAIL_1>>"));
        Assert.That(chat["request_id"]!.GetValue<string>(), Is.EqualTo("a@b.com"), "ids are structure");
        Assert.That(plainInput["input"]!.GetValue<string>(), Is.EqualTo("<<EMAIL_1>>"));
        Assert.That(session.Summary.Counts[MaskingTypes.Email], Is.EqualTo(4));
    }

    [Test]
    public async Task OffPolicy_LeavesTheBodyUntouched()
    {
        var body = JsonNode.Parse("""{"messages": [{"role": "user", "content": "a@b.com"}]}""")!;
        var session = Service(new MaskingOptions { Policy = MaskingPolicy.Off }).Begin(MaskingRoute.Messages);
        var counts = await session.MaskJsonBodyAsync(body);
        Assert.That(counts, Is.Empty);
        Assert.That(body.ToJsonString(), Does.Contain("a@b.com"));
    }

    [Test]
    public async Task AbsurdlyDeepBody_FailsClosed()
    {
        var deep = string.Concat(Enumerable.Repeat("[", 100)) + "\"a@b.com\"" + string.Concat(Enumerable.Repeat("]", 100));
        var body = JsonNode.Parse($$"""{"messages": [{"role": "user", "content": {{deep}}}]}""", documentOptions: new() { MaxDepth = 300 })!;
        await Assert.ThrowsAsync<MaskingFailedException>(async () => await Session().MaskJsonBodyAsync(body));
    }

    [Test]
    public async Task BlockPolicy_RefusesABodyWithSecrets_AndLeavesItUnchanged()
    {
        var body = JsonNode.Parse("""{"model": "m", "messages": [{"role": "user", "content": "key AKIAIOSFODNN7EXAMPLE"}]}""")!;
        var before = body.ToJsonString();
        var session = Service(new MaskingOptions { Policy = MaskingPolicy.Block }).Begin(MaskingRoute.ChatCompletions);
        var ex = await Assert.ThrowsAsync<MaskingBlockedException>(async () => await session.MaskJsonBodyAsync(body));
        Assert.That(ex!.Types, Is.EqualTo(new[] { MaskingTypes.AwsAccessKey }));
        Assert.That(body.ToJsonString(), Is.EqualTo(before));
    }

    [Test]
    public async Task RedactPolicy_RedactsBodyContent()
    {
        var body = JsonNode.Parse("""{"model": "m", "system": "ops@corp.kr", "messages": [{"role": "user", "content": "010-1234-5678"}]}""")!;
        var session = Service(new MaskingOptions { Policy = MaskingPolicy.Redact }).Begin(MaskingRoute.Messages);
        await session.MaskJsonBodyAsync(body);
        Assert.That(body["system"]!.GetValue<string>(), Is.EqualTo("[REDACTED_EMAIL]"));
        Assert.That(body["messages"]![0]!["content"]!.GetValue<string>(), Is.EqualTo("[REDACTED_PHONE]"));
    }
}
