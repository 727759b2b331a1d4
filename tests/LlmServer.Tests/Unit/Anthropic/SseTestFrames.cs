using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Streaming;

namespace LlmServer.Tests.Unit.Anthropic;

/// <summary>Parses what a converter wrote back into (event, data) frames, as a client would.</summary>
internal static class SseTestFrames
{
    public static List<(string? Event, string Data)> Parse(ArrayBufferWriter<byte> buffer) => Parse(Encoding.UTF8.GetString(buffer.WrittenSpan));

    public static List<(string? Event, string Data)> Parse(string text)
    {
        var frames = new List<(string?, string)>();
        using var reader = new SseReader(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        while (reader.ReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult()) frames.Add((reader.EventName, reader.DataText));
        return frames;
    }

    public static JsonObject Json(string data) => (JsonObject)JsonNode.Parse(data)!;
}
