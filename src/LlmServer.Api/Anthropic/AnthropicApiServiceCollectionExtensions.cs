using LlmServer.Api.Anthropic;

namespace LlmServer.Api;

/// <summary>Registration of the /v1/messages host layer.</summary>
public static class AnthropicApiServiceCollectionExtensions
{
    /// <summary>The /v1/messages proxy (controllers are picked up by MVC).</summary>
    public static IServiceCollection AddAnthropicApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<MessagesProxy>();
        services.AddSingleton<ChatCompletionsViaAnthropic>();
        return services;
    }
}
