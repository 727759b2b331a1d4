using LlmServer.Services.Routing;

namespace LlmServer.Services.Anthropic;

/// <summary>The wire dialect an upstream speaks.</summary>
public enum UpstreamDialect
{
    /// <summary>Anthropic Messages API (/v1/messages): requests pass through unchanged.</summary>
    Anthropic,

    /// <summary>OpenAI chat.completions (OpenAI, vLLM, other compatible servers): requests are translated.</summary>
    OpenAiChat,
}

/// <summary>Where a /v1/messages request goes.</summary>
/// <param name="Name">Upstream name for logs and the ledger (anthropic, vllm, openai).</param>
/// <param name="Dialect">Wire dialect of the upstream.</param>
/// <param name="BaseUrl">Base URL as configured (with or without /v1).</param>
/// <param name="ApiKey">Key sent upstream; null or empty: none.</param>
/// <param name="Model">Model name to send upstream.</param>
/// <param name="Translation">How to shape a translated request (OpenAiChat only).</param>
public sealed record MessagesUpstream(string Name, UpstreamDialect Dialect, string BaseUrl, string? ApiKey, string Model, ChatTranslationOptions Translation)
{
    /// <summary>Header carrying <see cref="ApiKey"/> on a translated call: null for <c>Authorization: Bearer</c>, or e.g. <c>api-key</c> (Azure).</summary>
    public string? ApiKeyHeader { get; init; }

    /// <summary>Full chat.completions URL when the base URL alone does not give it (Azure's classic deployment style); null: derived from <see cref="BaseUrl"/>.</summary>
    public Uri? ChatCompletionsUri { get; init; }

    /// <summary>Idle limit of an upstream from the gateway table; null: LlmServer:&lt;Provider&gt;:TimeoutSeconds applies.</summary>
    public TimeSpan? IdleTimeout { get; init; }
}

/// <summary>
/// Chooses the upstream for a /v1/messages (or count_tokens) request.
/// </summary>
public interface IMessagesUpstreamSelector
{
    /// <summary>The upstream for <paramref name="model"/>, or null when none is configured.</summary>
    MessagesUpstream? Select(string model);
}

/// <summary>Connection settings of one provider (LlmServer:Anthropic, LlmServer:Vllm, LlmServer:OpenAi).</summary>
public sealed class ProviderEndpointOptions
{
    /// <summary>Provider API key; empty: none.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Base URL.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>anthropic-version sent upstream when the client sent none (Anthropic only).</summary>
    public string? Version { get; set; }

    /// <summary>Seconds to wait for the upstream's response headers, and between two stream events.</summary>
    public double TimeoutSeconds { get; set; } = 120;
}

/// <summary>
/// Asks the gateway's model router (the one model table of the server): a deployment on an <c>anthropic</c>
/// upstream is served by passthrough (model name rewritten when the upstream knows it by another name); any
/// OpenAI-style upstream (openai, azure_openai, openai_compatible) by translation to chat.completions.
/// </summary>
public sealed class RoutedMessagesUpstreamSelector(IModelRouter router) : IMessagesUpstreamSelector
{
    /// <summary>Named options key for LlmServer:Anthropic.</summary>
    public const string Anthropic = "anthropic";

    /// <summary>Named options key for LlmServer:Vllm.</summary>
    public const string Vllm = "vllm";

    /// <summary>Named options key for LlmServer:OpenAi.</summary>
    public const string OpenAi = "openai";

    /// <inheritdoc />
    public MessagesUpstream? Select(string model)
    {
        if (!router.TryResolve(model, out var route)) return null;
        var d = route.At(0);
        var u = d.Upstream;
        var selected = u.Kind switch
        {
            UpstreamKinds.Anthropic => new MessagesUpstream(u.Name, UpstreamDialect.Anthropic, u.BaseUrl, u.ApiKey, d.UpstreamModel, new ChatTranslationOptions()),
            UpstreamKinds.OpenAiCompatible => new MessagesUpstream(u.Name, UpstreamDialect.OpenAiChat, u.BaseUrl, u.ApiKey, d.UpstreamModel,
                new ChatTranslationOptions { UpstreamModel = d.UpstreamModel, PassTopK = true, MaxTokensField = "max_tokens" }),
            UpstreamKinds.AzureOpenAi => new MessagesUpstream(u.Name, UpstreamDialect.OpenAiChat, u.BaseUrl, u.ApiKey, d.UpstreamModel,
                new ChatTranslationOptions { UpstreamModel = d.UpstreamModel, PassTopK = false, MaxTokensField = "max_completion_tokens" })
            {
                ApiKeyHeader = "api-key",
                ChatCompletionsUri = u.ApiVersion is null ? null : AzureOpenAiUpstream.RequestUri(u, d.UpstreamModel, "chat/completions"),
            },
            _ => new MessagesUpstream(u.Name, UpstreamDialect.OpenAiChat, u.BaseUrl, u.ApiKey, d.UpstreamModel,
                new ChatTranslationOptions { UpstreamModel = d.UpstreamModel, PassTopK = false, MaxTokensField = "max_completion_tokens" }),
        };
        // NOTE: the implicit upstreams keep their provider section's TimeoutSeconds; table upstreams use their own idle limit.
        return u.Name is Anthropic or Vllm or OpenAi ? selected : selected with { IdleTimeout = u.IdleTimeout };
    }
}
