using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Masking;
using LlmServer.Tests.Unit.Masking;

namespace LlmServer.Tests.Unit.Anthropic;

/// <summary>
/// Restoring an Anthropic SSE stream however its bytes are cut: text_delta and input_json_delta (with the
/// \u003c escapes .NET writers produce), frames and UTF-8 sequences split anywhere.
/// </summary>
public sealed class AnthropicSseRestorerTests
{
    private static async Task<(MaskingSession Session, string Masked)> MaskedAsync()
    {
        var session = MaskingKit.Session();
        var masked = (await session.MaskAsync(MaskingSessionTests.AwsScenario)).Text;
        return (session, masked);
    }

    /// <summary>A stream with one text block and one tool_use block, deltas of 5 characters.</summary>
    private static byte[] Stream(string maskedText)
    {
        var sb = new StringBuilder();
        void Frame(string name, JsonObject data) => sb.Append("event: ").Append(name).Append("\ndata: ").Append(data.ToJsonString()).Append("\n\n");
        Frame("message_start", new JsonObject { ["type"] = "message_start", ["message"] = new JsonObject { ["id"] = "msg_1" } });
        Frame("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" } });
        for (var i = 0; i < maskedText.Length; i += 5)
        {
            Frame("content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta", ["index"] = 0,
                ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = maskedText.Substring(i, Math.Min(5, maskedText.Length - i)) },
            });
        }
        Frame("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 });
        Frame("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 1, ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = "t", ["name"] = "n", ["input"] = new JsonObject() } });
        // NOTE: the default encoder escapes '<' and '>' as \u003c / \u003e and Hangul as \uXXXX, as .NET upstreams do.
        var json = new JsonObject { ["input"] = maskedText }.ToJsonString();
        for (var i = 0; i < json.Length; i += 4)
        {
            Frame("content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta", ["index"] = 1,
                ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = json.Substring(i, Math.Min(4, json.Length - i)) },
            });
        }
        Frame("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 1 });
        Frame("message_stop", new JsonObject { ["type"] = "message_stop" });
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static async Task<(string Text, string Json, List<string?> Events)> RestoreAsync(MaskingSession session, byte[] bytes, IEnumerable<int> cuts)
    {
        var restorer = new AnthropicSseRestorer(session);
        var output = new ArrayBufferWriter<byte>();
        var previous = 0;
        foreach (var cut in cuts.Append(bytes.Length))
        {
            await restorer.WriteAsync(bytes.AsMemory(previous, cut - previous), output, CancellationToken.None);
            previous = cut;
        }
        await restorer.CompleteAsync(output, CancellationToken.None);
        var frames = SseTestFrames.Parse(output);
        var text = new StringBuilder();
        var json = new StringBuilder();
        foreach (var (name, data) in frames.Where(f => f.Event == "content_block_delta"))
        {
            var delta = SseTestFrames.Json(data)["delta"]!;
            text.Append((string?)delta["text"]);
            json.Append((string?)delta["partial_json"]);
        }
        return (text.ToString(), json.ToString(), frames.Select(f => f.Event).ToList());
    }

    [Test]
    public async Task EverySingleCut_RestoresTextAndToolInputExactly()
    {
        var (session, masked) = await MaskedAsync();
        var bytes = Stream(masked);
        for (var cut = 0; cut <= bytes.Length; cut += 7)
        {
            var (text, json, events) = await RestoreAsync(session, bytes, [cut]);
            Assert.That(text, Is.EqualTo(MaskingSessionTests.AwsScenario), $"cut at {cut}");
            Assert.That((string?)JsonNode.Parse(json)!["input"], Is.EqualTo(MaskingSessionTests.AwsScenario), $"cut at {cut}");
            Assert.That(events[0], Is.EqualTo("message_start"));
            Assert.That(events[^1], Is.EqualTo("message_stop"));
        }
    }

    [Test]
    public async Task RandomCuts_RestoreExactly()
    {
        var (session, masked) = await MaskedAsync();
        var bytes = Stream(masked);
        var cuts = Gen.ListOf(Gen.Choose(0, bytes.Length)).Select(l => l.Distinct().Order().ToArray());
        Prop.ForAll(cuts.ToArbitrary(), c =>
        {
            var (text, json, _) = RestoreAsync(session, bytes, c).GetAwaiter().GetResult();
            return text == MaskingSessionTests.AwsScenario && (string?)JsonNode.Parse(json)!["input"] == MaskingSessionTests.AwsScenario;
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public async Task UnchangedFrames_AreCopiedByteForByte()
    {
        var session = MaskingKit.Session();
        await session.MaskAsync("nothing sensitive here");
        var bytes = Stream("plain answer without placeholders");
        var restorer = new AnthropicSseRestorer(session);
        var output = new ArrayBufferWriter<byte>();
        await restorer.WriteAsync(bytes, output, CancellationToken.None);
        await restorer.CompleteAsync(output, CancellationToken.None);
        Assert.That(output.WrittenSpan.ToArray(), Is.EqualTo(bytes));
    }
}
