using System.Text.Json.Nodes;
using LlmServer.Services.Masking;
using static LlmServer.Tests.Unit.Masking.MaskingKit;

namespace LlmServer.Tests.Unit.Masking;

/// <summary>
/// Tool definitions, schemas and participant names are prose the model reads: their values are masked in every
/// dialect, while names, types, enum values and schema keywords stay exactly as sent.
/// </summary>
public sealed class ToolDefinitionMaskingTests
{
    internal const string AwsKey = "AKIAIOSFODNN7EXAMPLE";
    internal const string Rrn = "900101-1234567";
    internal const string Phone = "010-1234-5678";
    internal const string OpenAiKey = "sk-proj-AbCdEf1234567890GhIjKlMnOpQrStUv";

    /// <summary>A description carrying one value of each kind.</summary>
    internal const string Leaky = $"Uses key {AwsKey}, owner RRN {Rrn}, call {Phone}, token {OpenAiKey}.";

    internal static readonly string[] Originals = [AwsKey, Rrn, Phone, OpenAiKey];

    private static JsonObject Schema() => new()
    {
        ["type"] = "object",
        ["title"] = "Lookup of " + Phone,
        ["description"] = Leaky,
        ["properties"] = new JsonObject
        {
            ["description"] = new JsonObject { ["type"] = "string", ["description"] = "RRN like " + Rrn },
            ["kind"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("AKIAIOSFODNN7EXAMPLE", "b"), ["description"] = "key " + AwsKey },
            ["items"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject { ["anyOf"] = new JsonArray(new JsonObject { ["type"] = "string", ["description"] = "phone " + Phone }) },
            },
        },
        ["$defs"] = new JsonObject { ["tok"] = new JsonObject { ["type"] = "string", ["description"] = "token " + OpenAiKey } },
        ["required"] = new JsonArray("kind"),
    };

    private static void AssertMasked(JsonNode body, JsonNode schema)
    {
        var json = body.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        foreach (var original in new[] { Rrn, Phone, OpenAiKey })
        {
            Assert.That(json, Does.Not.Contain(original));
        }
        Assert.That(schema["description"]!.GetValue<string>(), Does.Contain("<<AWS_ACCESS_KEY_1>>").And.Contain("<<KR_RRN_1>>").And.Contain("<<PHONE_1>>"));
        Assert.That(schema["title"]!.GetValue<string>(), Is.EqualTo("Lookup of <<PHONE_1>>"));
        Assert.That(schema["properties"]!["description"]!["description"]!.GetValue<string>(), Is.EqualTo("RRN like <<KR_RRN_1>>"));
        Assert.That(schema["properties"]!["kind"]!["description"]!.GetValue<string>(), Is.EqualTo("key <<AWS_ACCESS_KEY_1>>"));
        Assert.That(schema["properties"]!["items"]!["items"]!["anyOf"]![0]!["description"]!.GetValue<string>(), Is.EqualTo("phone <<PHONE_1>>"));
        Assert.That(schema["$defs"]!["tok"]!["description"]!.GetValue<string>(), Does.StartWith("token <<OPENAI_KEY_"));
        Assert.That(schema["properties"]!["kind"]!["enum"]![0]!.GetValue<string>(), Is.EqualTo(AwsKey), "enum values are a contract, sent as is");
        Assert.That(schema["properties"]!["description"]!["type"]!.GetValue<string>(), Is.EqualTo("string"), "a property named description is a schema");
        Assert.That(schema["required"]![0]!.GetValue<string>(), Is.EqualTo("kind"));
    }

    [Test]
    public async Task OpenAiChatTools_DescriptionsAndParameterDescriptions_AreMasked_NamesStay()
    {
        var schema = Schema();
        var body = new JsonObject
        {
            ["model"] = "gpt-4o",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["name"] = "kim " + Phone, ["content"] = "hi" }),
            ["tools"] = new JsonArray(new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = "lookup_AKIAIOSFODNN7EXAMPLE", ["description"] = Leaky, ["parameters"] = schema },
            }),
        };

        await Session().MaskJsonBodyAsync(body);

        AssertMasked(body, schema);
        Assert.That(body["tools"]![0]!["function"]!["description"]!.GetValue<string>(), Does.Not.Contain(AwsKey));
        Assert.That(body["tools"]![0]!["function"]!["name"]!.GetValue<string>(), Is.EqualTo("lookup_AKIAIOSFODNN7EXAMPLE"), "tool names are identifiers");
        Assert.That(body["messages"]![0]!["name"]!.GetValue<string>(), Is.EqualTo("kim <<PHONE_1>>"));
        Assert.That(body["messages"]![0]!["role"]!.GetValue<string>(), Is.EqualTo("user"));
    }

    [Test]
    public async Task ResponsesTools_AndStructuredOutputSchemas_AreMasked()
    {
        var schema = Schema();
        var outputSchema = Schema();
        var body = new JsonObject
        {
            ["model"] = "gpt-4.1",
            ["input"] = "hi",
            ["tools"] = new JsonArray(
                new JsonObject { ["type"] = "function", ["name"] = "lookup", ["description"] = Leaky, ["parameters"] = schema },
                new JsonObject { ["type"] = "custom", ["name"] = "shell", ["description"] = "runs as " + Phone }),
            ["text"] = new JsonObject { ["format"] = new JsonObject { ["type"] = "json_schema", ["name"] = "out", ["description"] = "for " + Rrn, ["schema"] = outputSchema } },
        };

        await Session().MaskJsonBodyAsync(body);

        AssertMasked(body, schema);
        AssertMasked(body, outputSchema);
        Assert.That(body["tools"]![1]!["description"]!.GetValue<string>(), Is.EqualTo("runs as <<PHONE_1>>"));
        Assert.That(body["text"]!["format"]!["description"]!.GetValue<string>(), Is.EqualTo("for <<KR_RRN_1>>"));
        Assert.That(body["text"]!["format"]!["name"]!.GetValue<string>(), Is.EqualTo("out"));
    }

    [Test]
    public async Task AnthropicTools_InputSchemaDescriptions_AreMasked()
    {
        var schema = Schema();
        var body = new JsonObject
        {
            ["model"] = "claude-sonnet-4-5",
            ["max_tokens"] = 10,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
            ["tools"] = new JsonArray(
                new JsonObject { ["name"] = "lookup", ["description"] = Leaky, ["input_schema"] = schema },
                new JsonObject { ["type"] = "web_search_20250305", ["name"] = "web_search", ["max_uses"] = 2 }),
        };
        var serverTool = body["tools"]![1]!.ToJsonString();

        await Session().MaskJsonBodyAsync(body);

        AssertMasked(body, schema);
        Assert.That(body["tools"]![0]!["description"]!.GetValue<string>(), Does.Not.Contain(AwsKey));
        Assert.That(body["tools"]![1]!.ToJsonString(), Is.EqualTo(serverTool));
    }

    [Test]
    public async Task LegacyFunctions_ChatResponseFormat_RefusalsAndPredictions_AreMasked()
    {
        var schema = Schema();
        var body = JsonNode.Parse($$$"""
            {"model": "gpt-4o",
             "messages": [{"role": "assistant", "refusal": "not for {{{Phone}}}", "content": [{"type": "refusal", "refusal": "no {{{Rrn}}}"}]}],
             "functions": [{"name": "f", "description": "call {{{Phone}}}"}],
             "response_format": {"type": "json_schema", "json_schema": {"name": "x", "description": "about {{{Rrn}}}", "strict": true}},
             "prediction": {"type": "content", "content": "mail {{{Phone}}}"}}
            """)!;
        body["functions"]![0]!["parameters"] = schema;

        await Session().MaskJsonBodyAsync(body);

        AssertMasked(body, schema);
        Assert.That(body["messages"]![0]!["refusal"]!.GetValue<string>(), Is.EqualTo("not for <<PHONE_1>>"));
        Assert.That(body["messages"]![0]!["content"]![0]!["refusal"]!.GetValue<string>(), Is.EqualTo("no <<KR_RRN_1>>"));
        Assert.That(body["functions"]![0]!["description"]!.GetValue<string>(), Is.EqualTo("call <<PHONE_1>>"));
        Assert.That(body["response_format"]!["json_schema"]!["description"]!.GetValue<string>(), Is.EqualTo("about <<KR_RRN_1>>"));
        Assert.That(body["prediction"]!["content"]!.GetValue<string>(), Is.EqualTo("mail <<PHONE_1>>"));
    }

    [Test]
    public async Task EmbeddingsInput_StringAndArray_AreMasked()
    {
        var one = JsonNode.Parse($$"""{"model": "text-embedding-3-small", "input": "phone {{Phone}}"}""")!;
        var many = JsonNode.Parse($$"""{"model": "text-embedding-3-small", "input": ["rrn {{Rrn}}", "plain", [1, 2, 3]]}""")!;
        var session = Session();

        await session.MaskJsonBodyAsync(one);
        await session.MaskJsonBodyAsync(many);

        Assert.That(one["input"]!.GetValue<string>(), Is.EqualTo("phone <<PHONE_1>>"));
        Assert.That(many["input"]![0]!.GetValue<string>(), Is.EqualTo("rrn <<KR_RRN_1>>"));
        Assert.That(many["input"]![2]!.ToJsonString(), Is.EqualTo("[1,2,3]"), "token arrays stay");
    }
}
