using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Dto.Anthropic;

namespace LlmServer.Services.Anthropic;

/// <summary>A request that cannot be translated (bad shape, unsupported feature): answered with 400.</summary>
public sealed class AnthropicTranslationException(string message) : Exception(message);

/// <summary>Error types between the Anthropic and OpenAI dialects.</summary>
public static class AnthropicErrorMap
{
    /// <summary>The OpenAI error type for an Anthropic error type (for /v1/chat/completions served by an anthropic upstream).</summary>
    public static string OpenAiTypeFor(string anthropicType) => anthropicType switch
    {
        AnthropicErrorTypes.InvalidRequest or AnthropicErrorTypes.RequestTooLarge or AnthropicErrorTypes.NotFound => "invalid_request_error",
        AnthropicErrorTypes.Authentication => "authentication_error",
        AnthropicErrorTypes.Permission => "permission_error",
        AnthropicErrorTypes.RateLimit => "rate_limit_exceeded",
        _ => "server_error",
    };
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
