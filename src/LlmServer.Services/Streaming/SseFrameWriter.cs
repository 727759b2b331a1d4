using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmServer.Services.Streaming;

/// <summary>Writes SSE frames into a buffer with one reusable <see cref="Utf8JsonWriter"/>.</summary>
public sealed class SseFrameWriter
{
    /// <summary>Hangul and other non-ASCII text stays UTF-8 rather than \uXXXX escapes, as the upstreams send it.</summary>
    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions s_options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly IBufferWriter<byte> _output;
    private readonly Utf8JsonWriter _json;

    /// <summary>Writes into <paramref name="output"/>.</summary>
    public SseFrameWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _json = new Utf8JsonWriter(output, s_writerOptions);
    }

    /// <summary>Writes "event: name\ndata: {json}\n\n" (no event line when name is null).</summary>
    public void Write(string? eventName, Action<Utf8JsonWriter> writeData)
    {
        WriteEventLine(eventName);
        _output.Write("data: "u8);
        _json.Reset(_output);
        writeData(_json);
        _json.Flush();
        _output.Write("\n\n"u8);
    }

    /// <summary>Writes a frame whose data is a JSON node.</summary>
    public void Write(string? eventName, JsonNode data) => Write(eventName, w => data.WriteTo(w, s_options));

    /// <summary>Writes a frame whose data is already serialized JSON (one line).</summary>
    public void WriteData(string? eventName, ReadOnlySpan<byte> data)
    {
        WriteEventLine(eventName);
        _output.Write("data: "u8);
        _output.Write(data);
        _output.Write("\n\n"u8);
    }

    /// <summary>Writes "data: raw\n\n" (for [DONE]).</summary>
    public void WriteRaw(string data)
    {
        _output.Write("data: "u8);
        WriteText(data);
        _output.Write("\n\n"u8);
    }

    private void WriteEventLine(string? eventName)
    {
        if (eventName is null) return;
        _output.Write("event: "u8);
        WriteText(eventName);
        _output.Write("\n"u8);
    }

    private void WriteText(string s)
    {
        var span = _output.GetSpan(Encoding.UTF8.GetMaxByteCount(s.Length));
        _output.Advance(Encoding.UTF8.GetBytes(s, span));
    }
}
