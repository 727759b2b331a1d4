using LlmServer.Services.Auth;

namespace LlmServer.Api.Proxy;

/// <summary>Host-side registration of the OpenAI-compatible gateway.</summary>
internal static partial class GatewayApi
{
    public static IServiceCollection AddGatewayApi(this IServiceCollection services)
    {
        services.AddSingleton<GatewayProxy>();
        services.AddSingleton<SessionMemory>();
        services.AddSingleton<LlmServer.Services.Ownership.StoredResponses>();
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

        // NOTE: plain RequestDelegates, not MVC actions: the body is never bound, so MVC would only add cost.
        var proxy = app.Services.GetRequiredService<GatewayProxy>();
        var v1 = app.MapGroup("/v1").WithTags("OpenAI-compatible");
        v1.MapPost("/chat/completions", ctx => proxy.ForwardAsync(ctx, GatewayRoute.ChatCompletions))
            .WithSummary("Creates a chat completion (plain or SSE stream); x-session-id adds stored session history.");
        v1.MapPost("/completions", ctx => proxy.ForwardAsync(ctx, GatewayRoute.Completions))
            .WithSummary("Creates a (legacy) text completion.");
        v1.MapPost("/responses", ctx => proxy.ForwardAsync(ctx, GatewayRoute.Responses))
            .WithSummary("Creates a model response (Responses API).");
        v1.MapGet("/responses/{id}", ctx => proxy.RetrieveResponseAsync(ctx, (string)ctx.Request.RouteValues["id"]!))
            .WithSummary("Retrieves a model response.");
        v1.MapPost("/embeddings", ctx => proxy.ForwardAsync(ctx, GatewayRoute.Embeddings))
            .WithSummary("Creates embeddings.");
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLMSERVER_MASTER_KEY is not set: /v1 and /api/v1 are open to anyone who can reach this server")]
    private static partial void LogOpen(ILogger logger);
}
