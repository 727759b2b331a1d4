using System.Text.Json;
using NLog.Web;

namespace LlmServer.Api;

/// <summary>Registration of the host layer: MVC, filters, Swagger, endpoints.</summary>
public static class DependencyInjection
{
    /// <summary>Host-level setup: env shortcuts (SERVER_PORT ...), logging.</summary>
    public static WebApplicationBuilder AddLlmServerHosting(this WebApplicationBuilder builder)
    {
        EnvironmentShortcuts.Apply(builder.Configuration);
        var port = builder.Configuration["SERVER_PORT"];
        if (!string.IsNullOrEmpty(port) && string.IsNullOrEmpty(builder.Configuration["urls"])
            && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
        }
        builder.Logging.ClearProviders();
        // NOTE: NLog 5 ignores Logging:LogLevel by default (RemoveLoggerFactoryFilter = true), which logged every
        // request at Debug and made LOG_LEVEL a no-op; keep the Microsoft filters so appsettings/LOG_LEVEL apply.
        // Scopes are off: the layouts never print them, and Hosting opens one per request.
        builder.Host.UseNLog(new NLogAspNetCoreOptions { RemoveLoggerFactoryFilter = false, IncludeScopes = false });
        return builder;
    }

    /// <summary>MVC, validation filter, exception filters, Swagger.</summary>
    public static IServiceCollection AddLlmServerApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddControllers()
            .AddJsonOptions(o => o.JsonSerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);

        // --- session chat API (issue 2) ---

        // --- OpenAI-compatible gateway (issue 3) ---
        Proxy.GatewayApi.AddGatewayApi(services);

        // --- Anthropic + masking (issue 4) ---

        // --- operations: keys, budgets, ledger, metrics, dashboard (issue 5) ---

        return services;
    }

    /// <summary>The request pipeline and endpoint mapping.</summary>
    public static WebApplication UseLlmServerPipeline(this WebApplication app)
    {
        // --- session chat API (issue 2) ---

        // --- OpenAI-compatible gateway (issue 3) ---
        Proxy.GatewayApi.UseGateway(app);

        // --- Anthropic + masking (issue 4) ---

        // --- operations: keys, budgets, ledger, metrics, dashboard (issue 5) ---

        app.MapControllers();
        return app;
    }
}
