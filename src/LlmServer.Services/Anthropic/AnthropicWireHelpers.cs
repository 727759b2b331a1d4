using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Dto.Anthropic;

namespace LlmServer.Services.Anthropic;

/// <summary>A request that cannot be translated (bad shape, unsupported feature): answered with 400.</summary>
public sealed class AnthropicTranslationException(string message) : Exception(message);

/// <summary>Status codes and error types of the Anthropic dialect.</summary>
public static class AnthropicErrorMap
{
    /// <summary>The Anthropic error type for an HTTP status (Anthropic uses invalid_request_error for unlisted 4xx).</summary>
    public static string TypeForStatus(int status) => status switch
    {
        400 => AnthropicErrorTypes.InvalidRequest,
        401 => AnthropicErrorTypes.Authentication,
        402 => AnthropicErrorTypes.Billing,
        403 => AnthropicErrorTypes.Permission,
        404 => AnthropicErrorTypes.NotFound,
        413 => AnthropicErrorTypes.RequestTooLarge,
        429 => AnthropicErrorTypes.RateLimit,
        504 => AnthropicErrorTypes.Timeout,
        529 => AnthropicErrorTypes.Overloaded,
        >= 400 and < 500 => AnthropicErrorTypes.InvalidRequest,
        _ => AnthropicErrorTypes.Api,
    };

    /// <summary>The OpenAI error type for an Anthropic error type (for /v1/chat/completions served by an anthropic upstream).</summary>
    public static string OpenAiTypeFor(string anthropicType) => anthropicType switch
    {
        AnthropicErrorTypes.InvalidRequest or AnthropicErrorTypes.RequestTooLarge or AnthropicErrorTypes.NotFound => "invalid_request_error",
        AnthropicErrorTypes.Authentication => "authentication_error",
        AnthropicErrorTypes.Permission => "permission_error",
        AnthropicErrorTypes.RateLimit => "rate_limit_exceeded",
        _ => "server_error",
    };

    /// <summary>
    /// What the client of /v1/messages is told when an upstream answered <paramref name="upstreamStatus"/>:
    /// the status to return and the error type. 5xx become 502 (the gateway's upstream failed), 529 and 429 pass.
    /// </summary>
    public static (int Status, string Type) ForUpstreamStatus(int upstreamStatus) => upstreamStatus switch
    {
        429 => (429, AnthropicErrorTypes.RateLimit),
        529 => (529, AnthropicErrorTypes.Overloaded),
        503 => (529, AnthropicErrorTypes.Overloaded),
        504 => (504, AnthropicErrorTypes.Timeout),
        401 or 403 => (502, AnthropicErrorTypes.Api), // the server's upstream key was refused: not the caller's fault
        >= 500 => (502, AnthropicErrorTypes.Api),
        >= 400 => (upstreamStatus, TypeForStatus(upstreamStatus)),
        _ => (502, AnthropicErrorTypes.Api),
    };

    /// <summary>Serialized error body.</summary>
    public static byte[] Body(string type, string message) =>
        System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(AnthropicErrorResponse.Of(type, message), AnthropicJsonContext.Default.AnthropicErrorResponse);
}

/// <summary>Stop reason / finish reason mappings between the dialects.</summary>
public static class StopReasons
{
    /// <summary>OpenAI finish_reason to Anthropic stop_reason (seed 004: content_filter -> stop_sequence).</summary>
    public static string ToAnthropic(string? finishReason) => finishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" or "function_call" => "tool_use",
        "content_filter" => "stop_sequence",
        _ => "end_turn",
    };

    /// <summary>Anthropic stop_reason to OpenAI finish_reason.</summary>
    public static string ToOpenAi(string? stopReason) => stopReason switch
    {
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    };
}

/// <summary>Small JSON helpers shared by the translators.</summary>
internal static class J
{
    /// <summary>Keeps Hangul and other non-ASCII text as UTF-8 rather than \uXXXX escapes.</summary>
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static readonly JsonSerializerOptions Options = new() { Encoder = Encoder };

    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = Encoder };

    public static string? Str(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public static bool Bool(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    public static long? Long(JsonNode? node) =>
        node is JsonValue v ? (v.TryGetValue<long>(out var l) ? l : v.TryGetValue<double>(out var d) ? (long)d : null) : null;

    public static string Compact(JsonNode? node) => node?.ToJsonString(Options) ?? "null";

    public static JsonNode? Clone(JsonNode? node) => node?.DeepClone();

    /// <summary>Parses tool arguments; invalid JSON is kept as {"_raw": text} rather than lost.</summary>
    public static JsonObject ParseArguments(string? arguments)
    {
        if (string.IsNullOrWhiteSpace(arguments)) return new JsonObject();
        try
        {
            return JsonNode.Parse(arguments) is JsonObject o ? o : new JsonObject { ["_raw"] = arguments };
        }
        catch (JsonException)
        {
            return new JsonObject { ["_raw"] = arguments };
        }
    }
}

/// <summary>One server-sent event.</summary>
/// <param name="Event">The event name, or null when the event had no <c>event:</c> line.</param>
/// <param name="Data">The data lines joined by \n.</param>
public readonly record struct SseEvent(string? Event, string Data);

/// <summary>Reads server-sent events from a stream as they arrive (no buffering of the whole stream).</summary>
public sealed class SseReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 4096, leaveOpen: true);

    /// <summary>The next event, or null at the end of the stream.</summary>
    public async ValueTask<SseEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        string? name = null;
        StringBuilder? data = null;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null)
            {
                return data is null ? null : new SseEvent(name, data.ToString());
            }
            if (line.Length == 0)
            {
                if (data is null && name is null) continue;
                return new SseEvent(name, data?.ToString() ?? "");
            }
            if (line[0] == ':') continue;
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.Length > 0 && value[0] == ' ') value = value[1..];
            switch (field)
            {
                case "event":
                    name = value;
                    break;
                case "data":
                    if (data is null) data = new StringBuilder(value);
                    else data.Append('\n').Append(value);
                    break;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();
}

/// <summary>Writes SSE frames into a buffer with one reusable <see cref="Utf8JsonWriter"/>.</summary>
public sealed class SseFrameWriter
{
    private static readonly byte[] s_event = "event: "u8.ToArray();
    private static readonly byte[] s_data = "data: "u8.ToArray();
    private readonly IBufferWriter<byte> _output;
    private readonly Utf8JsonWriter _json;

    /// <summary>Writes into <paramref name="output"/>.</summary>
    public SseFrameWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _json = new Utf8JsonWriter(output, J.WriterOptions);
    }

    /// <summary>Writes "event: name\ndata: {json}\n\n" (no event line when name is null).</summary>
    public void Write(string? eventName, Action<Utf8JsonWriter> writeData)
    {
        if (eventName is not null)
        {
            _output.Write(s_event);
            WriteAscii(eventName);
            _output.Write("\n"u8);
        }
        _output.Write(s_data);
        _json.Reset(_output);
        writeData(_json);
        _json.Flush();
        _output.Write("\n\n"u8);
    }

    /// <summary>Writes a frame whose data is a JSON node.</summary>
    public void Write(string? eventName, JsonNode data) => Write(eventName, w => data.WriteTo(w, J.Options));

    /// <summary>Writes "data: raw\n\n" (for [DONE]).</summary>
    public void WriteRaw(string data)
    {
        _output.Write(s_data);
        WriteAscii(data);
        _output.Write("\n\n"u8);
    }

    private void WriteAscii(string s)
    {
        var span = _output.GetSpan(s.Length * 3);
        var n = Encoding.UTF8.GetBytes(s, span);
        _output.Advance(n);
    }
}

/// <summary>Serialization of translated bodies: UTF-8 without escaping Hangul, as the upstreams accept.</summary>
public static class AnthropicJson
{
    /// <summary>The node as compact UTF-8 JSON.</summary>
    public static byte[] ToUtf8(JsonNode node)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, J.WriterOptions)) node.WriteTo(w, J.Options);
        return buffer.WrittenSpan.ToArray();
    }
}
