using LlmServer.Services.Auth;

namespace LlmServer.Api.Proxy;

/// <summary>Host-side registration of the OpenAI-compatible gateway (issue 3).</summary>
internal static partial class GatewayApi
{
    public static IServiceCollection AddGatewayApi(this IServiceCollection services)
    {
        services.AddSingleton<GatewayProxy>();
        services.AddSingleton<SessionMemory>();
        services.AddSingleton<ResponseIdCache>();
        services.AddHealthChecks().AddCheck<GatewayHealthCheck>("gateway");
        return services;
    }

    public static WebApplication UseGateway(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IApiKeyAuthenticator>().Enabled)
        {
            LogOpen(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LlmServer.Api.Gateway"));
        }
        app.UseMiddleware<GatewayMiddleware>();
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLMSERVER_MASTER_KEY is not set: /v1 and /api/v1 are open to anyone who can reach this server")]
    private static partial void LogOpen(ILogger logger);
}
