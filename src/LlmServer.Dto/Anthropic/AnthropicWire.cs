using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmServer.Dto.Anthropic;

/// <summary>Anthropic error types (the <c>error.type</c> field of an Anthropic error body).</summary>
public static class AnthropicErrorTypes
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Billing = "billing_error";
    public const string Permission = "permission_error";
    public const string NotFound = "not_found_error";
    public const string RequestTooLarge = "request_too_large";
    public const string RateLimit = "rate_limit_error";
    public const string Api = "api_error";
    public const string Timeout = "timeout_error";
    public const string Overloaded = "overloaded_error";
}

/// <summary>The inner object of an Anthropic error body.</summary>
public sealed record AnthropicError
{
    /// <summary>One of <see cref="AnthropicErrorTypes"/>.</summary>
    public required string Type { get; init; }

    /// <summary>Human-readable description; never holds secrets or upstream internals.</summary>
    public required string Message { get; init; }
}

/// <summary>Anthropic's error body: <c>{"type":"error","error":{"type","message"}}</c>; also the data of an SSE <c>error</c> event.</summary>
public sealed record AnthropicErrorResponse
{
    /// <summary>Always "error".</summary>
    public string Type { get; init; } = "error";

    /// <summary>What went wrong.</summary>
    public required AnthropicError Error { get; init; }

    /// <summary>Builds an error body.</summary>
    public static AnthropicErrorResponse Of(string type, string message) => new() { Error = new AnthropicError { Type = type, Message = message } };
}

/// <summary>Token usage of an Anthropic message.</summary>
public sealed record AnthropicUsage
{
    /// <summary>Input tokens not read from cache.</summary>
    public long InputTokens { get; init; }

    /// <summary>Output tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Input tokens written to the prompt cache.</summary>
    public long? CacheCreationInputTokens { get; init; }

    /// <summary>Input tokens read from the prompt cache.</summary>
    public long? CacheReadInputTokens { get; init; }
}

/// <summary>A content block of a message. Only the fields of its <see cref="Type"/> are set.</summary>
public sealed record AnthropicContentBlock
{
    /// <summary>text, tool_use, thinking, image, tool_result ...</summary>
    public required string Type { get; init; }

    /// <summary>Text of a text block.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Text { get; init; }

    /// <summary>Thinking text of a thinking block.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Thinking { get; init; }

    /// <summary>Signature of a thinking block.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Signature { get; init; }

    /// <summary>Id of a tool_use block (toolu_...).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Id { get; init; }

    /// <summary>Tool name of a tool_use block.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    /// <summary>Tool input of a tool_use block (a JSON object).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? Input { get; init; }
}

/// <summary>The response of POST /v1/messages (non-streamed), and the message of a message_start event.</summary>
public sealed record AnthropicMessage
{
    /// <summary>msg_...</summary>
    public required string Id { get; init; }

    /// <summary>Always "message".</summary>
    public string Type { get; init; } = "message";

    /// <summary>Always "assistant".</summary>
    public string Role { get; init; } = "assistant";

    /// <summary>The model that answered.</summary>
    public required string Model { get; init; }

    /// <summary>Content blocks in order.</summary>
    public IReadOnlyList<AnthropicContentBlock> Content { get; init; } = [];

    /// <summary>end_turn, max_tokens, stop_sequence, tool_use, pause_turn, refusal; null while streaming.</summary>
    public string? StopReason { get; init; }

    /// <summary>The stop sequence that matched, when stop_reason is stop_sequence.</summary>
    public string? StopSequence { get; init; }

    /// <summary>Token usage.</summary>
    public required AnthropicUsage Usage { get; init; }
}

/// <summary>The response of POST /v1/messages/count_tokens.</summary>
public sealed record AnthropicCountTokensResponse
{
    /// <summary>Estimated input tokens of the request.</summary>
    public long InputTokens { get; init; }
}

/// <summary>Source-generated JSON metadata for the Anthropic wire types (snake_case, as on the wire).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(AnthropicErrorResponse))]
[JsonSerializable(typeof(AnthropicMessage))]
[JsonSerializable(typeof(AnthropicCountTokensResponse))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class AnthropicJsonContext : JsonSerializerContext;
