using System.Text;
using LlmServer.Services.Streaming;

namespace LlmServer.Tests.Unit.Streaming;

[TestFixture]
public sealed class SseReaderTests
{
    /// <summary>A stream that hands out at most <c>chunk</c> bytes per read, as a network does.</summary>
    private sealed class Trickle(byte[] bytes, int chunk) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }

    private static async Task<List<(string? Event, string Data, string Raw)>> ReadAllAsync(string text, int chunk = int.MaxValue, int bufferSize = 16)
    {
        var frames = new List<(string?, string, string)>();
        using var reader = new SseReader(new Trickle(Encoding.UTF8.GetBytes(text), chunk), bufferSize);
        while (await reader.ReadAsync(CancellationToken.None)) frames.Add((reader.EventName, reader.DataText, Encoding.UTF8.GetString(reader.Raw.Span)));
        return frames;
    }

    [TestCase("\n")]
    [TestCase("\r\n")]
    [TestCase("\r")]
    public async Task Frames_EndAtABlankLine_WhateverTheLineEnding(string nl)
    {
        var text = $"event: a{nl}data: {{\"x\":1}}{nl}{nl}data: 한글{nl}{nl}";
        foreach (var chunk in new[] { 1, 2, 3, 7, 1000 })
        {
            var frames = await ReadAllAsync(text, chunk);
            Assert.That(frames.Select(f => (f.Event, f.Data)), Is.EqualTo(new[] { ("a", "{\"x\":1}"), ((string?)null, "한글") }), $"read {chunk} bytes at a time");
            Assert.That(string.Concat(frames.Select(f => f.Raw)), Is.EqualTo(text), "the frames' bytes are the stream's bytes");
        }
    }

    [Test]
    public async Task DataWithoutTheSpace_MultiLineData_CommentsAndUnknownFields()
    {
        var frames = await ReadAllAsync(": keepalive\n\nid: 7\nevent:b\ndata:{\"x\":\ndata: 1}\nretry: 10\n\ndata: [DONE]\n\n", chunk: 5);
        Assert.That(frames.Select(f => (f.Event, f.Data)), Is.EqualTo(new[] { ("b", "{\"x\":\n1}"), ((string?)null, "[DONE]") }));
    }

    [Test]
    public async Task AFrameLargerThanTheBuffer_IsReadWhole()
    {
        var big = new string('가', 5000);
        var frames = await ReadAllAsync($"data: {big}\n\ndata: end\n\n", chunk: 100);
        Assert.That(frames.Select(f => f.Data), Is.EqualTo(new[] { big, "end" }));
    }

    [Test]
    public async Task AnUnterminatedLastFrame_IsStillRead()
    {
        var frames = await ReadAllAsync("data: a\n\ndata: [DONE]", chunk: 3);
        Assert.That(frames.Select(f => f.Data), Is.EqualTo(new[] { "a", "[DONE]" }));
    }
}
