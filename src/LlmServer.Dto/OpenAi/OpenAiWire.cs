using System.Text.Json.Serialization;

namespace LlmServer.Dto.OpenAi;

/// <summary>OpenAI's error envelope: {"error":{"message","type","param","code"}}.</summary>
public sealed record OpenAiErrorResponse
{
    /// <summary>The error.</summary>
    [JsonPropertyName("error")]
    public required OpenAiError Error { get; init; }
}

/// <summary>One OpenAI error.</summary>
public sealed record OpenAiError
{
    /// <summary>Human-readable message (never internal addresses).</summary>
    [JsonPropertyName("message")]
    public required string Message { get; init; }

    /// <summary>invalid_request_error, authentication_error, rate_limit_error, server_error, ...</summary>
    [JsonPropertyName("type")]
    public required string Type { get; init; }

    /// <summary>The request field at fault, if any.</summary>
    [JsonPropertyName("param")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Param { get; init; }

    /// <summary>Machine-readable code (model_not_found, invalid_api_key, ...).</summary>
    [JsonPropertyName("code")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Code { get; init; }
}

/// <summary>GET /v1/models answer.</summary>
public sealed record ModelList
{
    /// <summary>Always "list".</summary>
    [JsonPropertyName("object")]
    public string Object { get; init; } = "list";

    /// <summary>The models.</summary>
    [JsonPropertyName("data")]
    public IReadOnlyList<ModelCard> Data { get; init; } = [];
}

/// <summary>One model, as OpenAI describes it plus vLLM's root and max_model_len.</summary>
public sealed record ModelCard
{
    /// <summary>The model name to send in requests.</summary>
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    /// <summary>Always "model".</summary>
    [JsonPropertyName("object")]
    public string Object { get; init; } = "model";

    /// <summary>Unix seconds.</summary>
    [JsonPropertyName("created")]
    public long Created { get; init; }

    /// <summary>Owner (openai, azure_openai, vllm ...).</summary>
    [JsonPropertyName("owned_by")]
    public string OwnedBy { get; init; } = "";

    /// <summary>The upstream model name (vLLM).</summary>
    [JsonPropertyName("root")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Root { get; init; }

    /// <summary>Context length, when known (vLLM).</summary>
    [JsonPropertyName("max_model_len")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxModelLen { get; init; }
}

/// <summary>GET /version answer (vLLM's shape).</summary>
public sealed record VersionInfo
{
    /// <summary>Server version.</summary>
    [JsonPropertyName("version")]
    public required string Version { get; init; }
}

/// <summary>Source-generated serializers for the OpenAI wire types used on the gateway.</summary>
[JsonSerializable(typeof(OpenAiErrorResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(VersionInfo))]
public sealed partial class OpenAiJsonContext : JsonSerializerContext;
