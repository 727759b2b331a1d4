using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Services.Chat;

/// <summary>Registration of the session chat API's services.</summary>
public static class ChatServiceRegistration
{
    /// <summary>Options (validated at start) and the chat service.</summary>
    public static IServiceCollection AddSessionChat(this IServiceCollection services)
    {
        services.AddOptions<ChatOptions>().BindConfiguration(ChatOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<OpenAiOptions>().BindConfiguration(OpenAiOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddAzureOpenAiOptions();
        services.AddSingleton<IChatService, ChatService>();
        return services;
    }
}
