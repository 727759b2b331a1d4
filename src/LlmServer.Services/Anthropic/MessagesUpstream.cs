using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using LlmServer.Services.Routing;

namespace LlmServer.Services.Anthropic;

/// <summary>Connection settings of one provider (LlmServer:Anthropic, LlmServer:Vllm, LlmServer:OpenAi).</summary>
public sealed class ProviderEndpointOptions
{
    /// <summary>Named options key for LlmServer:Anthropic.</summary>
    public const string Anthropic = "anthropic";

    /// <summary>Provider API key; empty: none.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Base URL.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>anthropic-version sent upstream when the client sent none (Anthropic only).</summary>
    public string? Version { get; set; }

    /// <summary>
    /// Seconds to wait for the upstream's response headers, and between two stream events: the first-byte and idle
    /// timeouts of the provider's implicit upstream (see the gateway's per-phase timeouts).
    /// </summary>
    public double TimeoutSeconds { get; set; } = 120;
}

/// <summary>How a /v1/messages request is shaped for a deployment on an OpenAI-style upstream (translation to chat.completions).</summary>
public static class MessagesTranslation
{
    /// <summary>
    /// The translation options of <paramref name="deployment"/>: its upstream model name; top_k only where the
    /// server takes it (vLLM and other OpenAI-compatible servers); OpenAI and Azure want max_completion_tokens;
    /// reasoning_effort where the upstream takes it for the model; the model's context length when known.
    /// </summary>
    public static ChatTranslationOptions OptionsFor(Deployment deployment, int? contextLength = null)
    {
        var vllm = deployment.Kind == UpstreamKinds.OpenAiCompatible;
        return new ChatTranslationOptions
        {
            UpstreamModel = deployment.UpstreamModel,
            PassTopK = vllm,
            MaxTokensField = vllm ? "max_tokens" : "max_completion_tokens",
            PassReasoningEffort = ReasoningEffort.Accepts(deployment.Kind, deployment.UpstreamModel),
            ContextLength = contextLength,
        };
    }
}

/// <summary>Registration of the Anthropic-format protocol layer.</summary>
public static class AnthropicServiceCollectionExtensions
{
    /// <summary>The Anthropic provider's endpoint options (the anthropic-version sent when the client sent none).</summary>
    public static IServiceCollection AddAnthropicMessages(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ProviderEndpointOptions>(ProviderEndpointOptions.Anthropic).BindConfiguration("LlmServer:Anthropic");
        return services;
    }
}
