using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

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
public sealed record MessagesUpstream(string Name, UpstreamDialect Dialect, string BaseUrl, string? ApiKey, string Model, ChatTranslationOptions Translation);

/// <summary>
/// Chooses the upstream for a /v1/messages (or count_tokens) request. A seam: the gateway's router replaces
/// the configured implementation when the branches meet.
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
/// The self-contained rule of this area, until the gateway's model table takes over: with an Anthropic key set,
/// claude-* models go to the anthropic upstream; everything else is translated to vLLM when VLLM_BASE_URL is set,
/// else to OpenAI.
/// </summary>
public sealed class ConfiguredMessagesUpstreamSelector(IOptionsMonitor<ProviderEndpointOptions> options) : IMessagesUpstreamSelector
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
        var anthropic = options.Get(Anthropic);
        if (!string.IsNullOrEmpty(anthropic.ApiKey) && model.StartsWith("claude-", StringComparison.OrdinalIgnoreCase))
        {
            return new MessagesUpstream(Anthropic, UpstreamDialect.Anthropic, anthropic.BaseUrl is { Length: > 0 } b ? b : "https://api.anthropic.com",
                anthropic.ApiKey, model, new ChatTranslationOptions());
        }
        var vllm = options.Get(Vllm);
        if (!string.IsNullOrEmpty(vllm.BaseUrl))
        {
            return new MessagesUpstream(Vllm, UpstreamDialect.OpenAiChat, vllm.BaseUrl, vllm.ApiKey, model,
                new ChatTranslationOptions { UpstreamModel = model, PassTopK = true, MaxTokensField = "max_tokens" });
        }
        var openAi = options.Get(OpenAi);
        if (!string.IsNullOrEmpty(openAi.BaseUrl))
        {
            return new MessagesUpstream(OpenAi, UpstreamDialect.OpenAiChat, openAi.BaseUrl, openAi.ApiKey, model,
                new ChatTranslationOptions { UpstreamModel = model, PassTopK = false, MaxTokensField = "max_completion_tokens" });
        }
        return null;
    }
}

/// <summary>Registration of the Anthropic-format protocol layer.</summary>
public static class AnthropicServiceCollectionExtensions
{
    /// <summary>Provider endpoint options and the default upstream selector (replaceable: TryAdd).</summary>
    public static IServiceCollection AddAnthropicMessages(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ProviderEndpointOptions>(ConfiguredMessagesUpstreamSelector.Anthropic).BindConfiguration("LlmServer:Anthropic");
        services.AddOptions<ProviderEndpointOptions>(ConfiguredMessagesUpstreamSelector.Vllm).BindConfiguration("LlmServer:Vllm");
        services.AddOptions<ProviderEndpointOptions>(ConfiguredMessagesUpstreamSelector.OpenAi).BindConfiguration("LlmServer:OpenAi");
        Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions
            .TryAddSingleton<IMessagesUpstreamSelector, ConfiguredMessagesUpstreamSelector>(services);
        return services;
    }
}
