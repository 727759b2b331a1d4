using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Tests.Unit.Masking;

namespace LlmServer.Tests.Unit.Gateway;

/// <summary>Stream shapes the fake upstream does not produce: Responses function-call arguments, tails held at the end.</summary>
[TestFixture]
public sealed class OpenAiResponseRestorerTests
{
    private const string Original = "i-1234567890abcdef0";

    private static async Task<(OpenAiResponseRestorer Restorer, string Placeholder)> StartAsync(ExchangeSurface route)
    {
        var session = MaskingKit.Session();
        var masked = await session.MaskAsync("check " + Original);
        var placeholder = masked.Text["check ".Length..];
        return (new OpenAiResponseRestorer(session, route), placeholder);
    }

    private static async Task<string> FeedAsync(OpenAiResponseRestorer restorer, JsonObject data, string? eventName = null)
    {
        var head = eventName is null ? "" : "event: " + eventName + "\n";
        var ev = Encoding.UTF8.GetBytes(head + "data: " + data.ToJsonString() + "\n\n");
        var payloadStart = head.Length + 6;
        var output = await restorer.RewriteEventAsync(ev, head.Length, ev.AsMemory(payloadStart, ev.Length - payloadStart - 2), CancellationToken.None);
        return Encoding.UTF8.GetString(output ?? ev);
    }

    private static IEnumerable<JsonObject> Events(string sse) =>
        sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('\n').Single(l => l.StartsWith("data: ", StringComparison.Ordinal))[6..])
            .Select(d => JsonNode.Parse(d)!.AsObject());

    [Test]
    public async Task ResponsesFunctionCallArguments_SplitPlaceholder_RestoredAsJson_AndTheDoneEventToo()
    {
        var (restorer, placeholder) = await StartAsync(ExchangeSurface.Responses);
        var args = $$"""{"id":"{{placeholder}}"}""";
        var deltas = new StringBuilder();
        for (var i = 0; i < args.Length; i += 4)
        {
            var piece = args.Substring(i, Math.Min(4, args.Length - i));
            var output = await FeedAsync(restorer, new JsonObject { ["type"] = "response.function_call_arguments.delta", ["output_index"] = 0, ["delta"] = piece }, "response.function_call_arguments.delta");
            foreach (var e in Events(output)) deltas.Append((string?)e["delta"]);
        }
        var done = await FeedAsync(restorer, new JsonObject { ["type"] = "response.function_call_arguments.done", ["output_index"] = 0, ["arguments"] = args }, "response.function_call_arguments.done");
        foreach (var e in Events(done).Where(e => (string?)e["type"] == "response.function_call_arguments.delta")) deltas.Append((string?)e["delta"]);

        Assert.That((string?)JsonNode.Parse(deltas.ToString())!["id"], Is.EqualTo(Original));
        var doneEvent = Events(done).Single(e => (string?)e["type"] == "response.function_call_arguments.done");
        Assert.That((string?)JsonNode.Parse((string)doneEvent["arguments"]!)!["id"], Is.EqualTo(Original));
    }

    [Test]
    public async Task ChatStream_EndingOnAPartialPlaceholder_FlushesItAtFinishReason()
    {
        var (restorer, placeholder) = await StartAsync(ExchangeSurface.ChatCompletions);
        JsonObject Chunk(string content, string? finish) => new()
        {
            ["id"] = "c1", ["object"] = "chat.completion.chunk", ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0, ["delta"] = new JsonObject { ["content"] = content }, ["finish_reason"] = finish,
            }),
        };
        var text = new StringBuilder();
        foreach (var e in Events(await FeedAsync(restorer, Chunk("id " + placeholder[..5], null)))) text.Append((string?)e["choices"]![0]!["delta"]!["content"]);
        Assert.That(text.ToString(), Is.EqualTo("id "), "the possible placeholder prefix is held");
        foreach (var e in Events(await FeedAsync(restorer, Chunk(placeholder[5..] + " and <<NOT", null)))) text.Append((string?)e["choices"]![0]!["delta"]!["content"]);
        foreach (var e in Events(await FeedAsync(restorer, Chunk("", "stop")))) text.Append((string?)e["choices"]![0]!["delta"]!["content"]);

        Assert.That(text.ToString(), Is.EqualTo("id " + Original + " and <<NOT"));
    }

    [Test]
    public async Task CompletionsStream_WithoutFinishReason_GetsItsTailBeforeDone()
    {
        var (restorer, placeholder) = await StartAsync(ExchangeSurface.Completions);
        var first = await FeedAsync(restorer, new JsonObject
        {
            ["id"] = "cmpl-1", ["object"] = "text_completion", ["model"] = "m",
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["text"] = "x " + placeholder[..^1], ["finish_reason"] = null }),
        });
        var tail = await restorer.FlushAllAsync(CancellationToken.None);

        Assert.That((string?)Events(first).Single()["choices"]![0]!["text"], Is.EqualTo("x "));
        Assert.That(tail, Is.Not.Null);
        Assert.That((string?)Events(Encoding.UTF8.GetString(tail!)).Single()["choices"]![0]!["text"], Is.EqualTo(placeholder[..^1]),
            "an unfinished placeholder is sent as it was, never dropped");
    }

    [TestCase("{\"c\":\"a <<X\"}", true)]
    [TestCase("{\"c\":\"a \\u003C\\u003cX\"}", true)]
    [TestCase("{\"c\":\"a \\uFF1cX\"}", true)]
    [TestCase("{\"c\":\"a ＜＜X\"}", true)]
    [TestCase("{\"c\":\"plain \\\"quoted\\\" \\n text\"}", false)]
    [TestCase("{\"c\":\"a literal backslash \\\\u003c\"}", false)]
    public void OpenerPrecheck_SeesRawAndEscapedOpeners_SoNoPlaceholderEventIsSkipped(string payload, bool expected)
    {
        Assert.That(OpenAiResponseRestorer.MayHoldOpener(Encoding.UTF8.GetBytes(payload)), Is.EqualTo(expected));
    }

    [Test]
    public async Task EscapedPlaceholderInTheWireJson_IsStillRestored()
    {
        var (restorer, placeholder) = await StartAsync(ExchangeSurface.ChatCompletions);
        var escaped = placeholder.Replace("<", "\\u003c", StringComparison.Ordinal).Replace(">", "\\u003e", StringComparison.Ordinal);
        var ev = Encoding.UTF8.GetBytes("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + escaped + "\"},\"finish_reason\":\"stop\"}]}\n\n");

        var output = await restorer.RewriteEventAsync(ev, 0, ev.AsMemory(6, ev.Length - 8), CancellationToken.None);

        Assert.That((string?)Events(Encoding.UTF8.GetString(output!)).Single()["choices"]![0]!["delta"]!["content"], Is.EqualTo(Original));
    }
}
