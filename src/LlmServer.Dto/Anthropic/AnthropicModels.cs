using System.Text.Json.Serialization;

namespace LlmServer.Dto.Anthropic;

/// <summary>GET /v1/models for an Anthropic client (Anthropic's Models API list shape).</summary>
public sealed record AnthropicModelList
{
    /// <summary>The models.</summary>
    [JsonPropertyName("data")]
    public IReadOnlyList<AnthropicModelInfo> Data { get; init; } = [];

    /// <summary>Always false: every model is on the one page.</summary>
    [JsonPropertyName("has_more")]
    public bool HasMore { get; init; }

    /// <summary>The first model's id, or null for an empty list.</summary>
    [JsonPropertyName("first_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? FirstId { get; init; }

    /// <summary>The last model's id, or null for an empty list.</summary>
    [JsonPropertyName("last_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? LastId { get; init; }
}

/// <summary>One model, as Anthropic's Models API describes it.</summary>
public sealed record AnthropicModelInfo
{
    /// <summary>The model name to send in requests.</summary>
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    /// <summary>Always "model".</summary>
    [JsonPropertyName("type")]
    public string Type { get; init; } = "model";

    /// <summary>A name for people; the id, as the gateway knows no other.</summary>
    [JsonPropertyName("display_name")]
    public required string DisplayName { get; init; }

    /// <summary>RFC 3339 time the model became available here.</summary>
    [JsonPropertyName("created_at")]
    public required string CreatedAt { get; init; }
}

/// <summary>Source-generated serializers for the Anthropic model listing.</summary>
[JsonSerializable(typeof(AnthropicModelList))]
[JsonSerializable(typeof(AnthropicModelInfo))]
public sealed partial class AnthropicModelsJsonContext : JsonSerializerContext;
