namespace LlmServer.Api.Anthropic;

/// <summary>Registration of the /v1/messages host layer.</summary>
internal static class AnthropicApiServiceCollectionExtensions
{
    /// <summary>The /v1/messages proxy (controllers are picked up by MVC).</summary>
    public static IServiceCollection AddAnthropicApi(this IServiceCollection services)
    {
        services.AddSingleton<MessagesProxy>();
        services.AddSingleton<ChatCompletionsViaAnthropic>();
        return services;
    }
}
