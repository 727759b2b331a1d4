using System.Text.Json;
using LlmServer.Api.Anthropic;
using LlmServer.Api.Chat;
using LlmServer.Api.Errors;
using LlmServer.Api.Filters;
using LlmServer.Api.Operations;
using LlmServer.Api.Proxy;
using LlmServer.Api.Telemetry;
using LlmServer.Services.Configuration;
using NLog.Web;

namespace LlmServer.Api;

/// <summary>Registration of the host layer (MVC, filters, Swagger, endpoints) and the request pipeline.</summary>
public static class DependencyInjection
{
    /// <summary>Host-level setup: env shortcuts (SERVER_PORT ...), logging.</summary>
    public static WebApplicationBuilder AddLlmServerHosting(this WebApplicationBuilder builder)
    {
        EnvironmentShortcuts.Apply(builder.Configuration);
        var port = builder.Configuration["SERVER_PORT"];
        // NOTE: appsettings.json carries a local-only "Urls"; SERVER_PORT must win over it (the container sets it),
        // while an explicit ASPNETCORE_URLS or --urls still wins over SERVER_PORT.
        var explicitUrls = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_URLS"))
            || Environment.GetCommandLineArgs().Any(a => a.StartsWith("--urls", StringComparison.OrdinalIgnoreCase));
        if (!string.IsNullOrEmpty(port) && !explicitUrls)
        {
            builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
        }
        builder.Logging.ClearProviders();
        Logging.RedactSecretsWrapper.Register();
        // NOTE: NLog 5 ignores Logging:LogLevel by default (RemoveLoggerFactoryFilter = true), which logged every
        // request at Debug and made LOG_LEVEL a no-op; keep the Microsoft filters so appsettings/LOG_LEVEL apply.
        // Scopes are off: the layouts never print them, and Hosting opens one per request.
        builder.Host.UseNLog(new NLogAspNetCoreOptions { RemoveLoggerFactoryFilter = false, IncludeScopes = false });
        return builder;
    }

    /// <summary>The host layer of each concern: MVC and its errors, the three API surfaces, telemetry.</summary>
    public static IServiceCollection AddLlmServerApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddControllers()
            .AddJsonOptions(o => o.JsonSerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        services.AddValidatedOptions<RequestLimitsOptions, RequestLimitsOptionsValidator>(RequestLimitsOptions.SectionName);
        services.AddDialectErrorHandling();
        services.AddSessionChatApi();
        services.AddGatewayApi();
        services.AddAnthropicApi();
        services.AddLlmServerTelemetry(configuration);
        return services;
    }

    /// <summary>The request pipeline and endpoint mapping.</summary>
    public static WebApplication UseLlmServerPipeline(this WebApplication app)
    {
        Logging.RedactSecretsWrapper.UseScanner(app.Services.GetRequiredService<LlmServer.Services.Masking.Detection.SensitiveDataScanner>());
        // NOTE: first, so every request is counted while it runs: on shutdown the ledger's last flush waits for them.
        var inFlight = app.Services.GetRequiredService<Services.Operations.InFlightRequests>();
        app.Use(async (context, next) =>
        {
            inFlight.Enter();
            try
            {
                await next(context);
            }
            finally
            {
                inFlight.Exit();
            }
        });
        app.UseDialectErrorHandling();
        app.UseSessionChatApi();

        // NOTE: the gateway's auth and its /v1 hot path run before routing.
        app.UseGateway();

        // NOTE: explicit, so they run after the gateway's hot path instead of first (WebApplication's default).
        app.UseRouting();
        if (app.Services.GetService<Microsoft.AspNetCore.Authentication.IAuthenticationSchemeProvider>() is not null)
        {
            app.UseAuthentication();
        }
        app.UseAuthorization();
        app.MapSessionChatApi();
        app.UseDashboard();
        app.MapLlmServerMetrics();
        app.MapControllers();
        return app;
    }
}
