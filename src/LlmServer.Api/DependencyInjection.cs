using System.Text.Json;
using LlmServer.Api.Dialects.Anthropic;
using LlmServer.Api.Chat;
using LlmServer.Api.Dialects.OpenAi;
using LlmServer.Api.Errors;
using LlmServer.Api.Filters;
using LlmServer.Api.Operations;
using LlmServer.Api.Pipeline;
using LlmServer.Api.Telemetry;
using LlmServer.Services.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using NLog.Web;

namespace LlmServer.Api;

/// <summary>Registration of the host layer (MVC, filters, Swagger, endpoints) and the request pipeline.</summary>
public static partial class DependencyInjection
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "LLMSERVER_MASTER_KEY is not set: /v1 and /api/v1 are open to anyone who can reach this server")]
    private static partial void LogOpen(ILogger logger);

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
        // NOTE: Kestrel reads only its endpoints from configuration; its limits (Kestrel:Limits:*) and the socket
        // transport's (Kestrel:Sockets:*) are bound here so that an operator sets them like any other setting.
        builder.Services.Configure<KestrelServerOptions>(builder.Configuration.GetSection("Kestrel"));
        builder.Services.Configure<SocketTransportOptions>(o =>
        {
            // NOTE: the transport buffers up to 1 MB per connection ahead of the reader by default, in pinned
            // blocks its pool keeps while traffic goes on: a burst of clients sending multi-MB bodies or huge
            // headers left ~30 MB of RSS behind for good. 64 KB still keeps the reader fed on large bodies.
            o.MaxReadBufferSize = 64 * 1024;
            builder.Configuration.GetSection("Kestrel:Sockets").Bind(o);
        });
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
        services.AddOpenAiWireApi();
        services.AddAnthropicApi();
        services.AddLlmServerTelemetry(configuration);
        return services;
    }

    /// <summary>The request pipeline and endpoint mapping.</summary>
    public static WebApplication UseLlmServerPipeline(this WebApplication app)
    {
        Logging.RedactSecretsWrapper.UseScanner(app.Services.GetRequiredService<LlmServer.Services.Masking.Detection.SensitiveDataScanner>());
        // NOTE: first, so every request is counted while it runs (on shutdown the ledger's last flush waits for
        // them) and every exception and empty framework error is answered in the path's dialect.
        if (!app.Services.GetRequiredService<Services.Auth.IApiKeyAuthenticator>().Enabled)
        {
            LogOpen(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LlmServer.Api.Gateway"));
        }
        app.UseMiddleware<RequestGate>();

        // NOTE: explicit, so routing runs after the caller is known (WebApplication's default puts it first).
        app.UseRouting();
        // NOTE: the wire-compatible /v1 API authenticates by its API key alone (the caller middleware) and serves
        // no page, so ASP.NET Core's authentication and authorization, Swagger and the static files are branches the
        // hot path never enters.
        app.UseWhen(static ctx => !IsWireApi(ctx.Request.Path), branch =>
        {
            if (app.Services.GetService<Microsoft.AspNetCore.Authentication.IAuthenticationSchemeProvider>() is not null)
            {
                branch.UseAuthentication();
            }
            branch.UseAuthorization();
            branch.UseSessionChatDocs();
            branch.UseDashboard(app);
        });
        // NOTE: a branch's builder keeps its own properties, so WebApplication would not see that authentication
        // and authorization are placed and would add both again in front of the whole pipeline.
        var builder = (IApplicationBuilder)app;
        builder.Properties["__AuthenticationMiddlewareSet"] = true;
        builder.Properties["__AuthorizationMiddlewareSet"] = true;
        app.MapHealth();
        app.MapOpenAiApi();
        app.MapAnthropicApi();
        app.MapLlmServerMetrics();
        app.MapControllers();
        return app;
    }

    private static bool IsWireApi(PathString path) => path.StartsWithSegments("/v1");

    /// <summary>The OpenAI-wire /v1 API: its endpoints, session memory, stored responses and the gateway's health.</summary>
    private static IServiceCollection AddOpenAiWireApi(this IServiceCollection services)
    {
        services.AddOpenAiApi();
        services.AddSingleton<Services.Dialects.OpenAi.SessionMemory>();
        services.AddSingleton<Services.Ownership.StoredResponses>();
        services.AddHealthChecks().AddCheck<GatewayHealthCheck>("gateway");
        return services;
    }
}
