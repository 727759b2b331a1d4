using LlmServer.Services.Auth;
using LlmServer.Services.Chat;
using LlmServer.Services.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace LlmServer.Api.Telemetry;

/// <summary>LlmServer:Metrics: who may scrape /metrics.</summary>
public sealed record MetricsEndpointOptions
{
    public const string SectionName = "LlmServer:Metrics";

    /// <summary>
    /// Serve /metrics without the master key even when one is set (a scraper on a private network).
    /// Off by default: with a master key, a scrape must send it as a bearer token.
    /// </summary>
    public bool AllowAnonymous { get; init; }
}

/// <summary>
/// OpenTelemetry for the host: the "LlmServer" meter exposed on /metrics by the Prometheus exporter, and — when
/// OTEL_EXPORTER_OTLP_ENDPOINT is set — metrics and traces (ASP.NET Core server spans plus the LlmServer source's
/// upstream spans) sent over OTLP. The standard OTEL_* variables (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_PROTOCOL,
/// OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES ...) are read by the SDK itself.
/// </summary>
public static class TelemetrySetup
{
    /// <summary>Registers the meter and tracer providers and the scrape settings.</summary>
    public static IServiceCollection AddLlmServerTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MetricsEndpointOptions>().BindConfiguration(MetricsEndpointOptions.SectionName).ValidateOnStart();
        var otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var builder = services.AddOpenTelemetry();
        if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"]))
        {
            builder.ConfigureResource(r => r.AddService("llmserver"));
        }
        builder.WithMetrics(m =>
        {
            m.AddMeter(LlmServerMetrics.MeterName);
            // NOTE: no exemplars: every measurement on the hot path would otherwise be offered to a reservoir.
            m.SetExemplarFilter(ExemplarFilterType.AlwaysOff);
            m.AddPrometheusExporter(o =>
            {
                // NOTE: keep the exposition as documented: no otel_scope_* label on every series, no target_info
                // family, and every scrape computed fresh (scrapes need the master key, so they are not a flood).
                o.ScopeInfoEnabled = false;
                o.TargetInfoEnabled = false;
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            });
            if (otlp) m.AddOtlpExporter();
        });
        // NOTE: the sources are registered always, so a tracer provider added later (the OTLP one below, or a test's
        // in-memory exporter) records the same spans; without any provider nothing listens and no span is built.
        services.ConfigureOpenTelemetryTracerProvider(t => t
            .AddSource(LlmServerTelemetry.SourceName)
            .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/metrics")
                && !ctx.Request.Path.StartsWithSegments("/health")));
        if (otlp) builder.WithTracing(t => t.AddOtlpExporter());
        DecorateResponsesUpstream(services);
        return services;
    }

    /// <summary>Maps GET /metrics behind the master key (unless LlmServer:Metrics:AllowAnonymous).</summary>
    public static IEndpointConventionBuilder MapLlmServerMetrics(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: b => b.Use(RequireScrapeKey), optionsName: null);

    /// <summary>
    /// A scraper gets plain text, not JSON: 401 with WWW-Authenticate when the bearer token is missing or wrong,
    /// 403 for a virtual key (only the master key may read server-wide numbers).
    /// </summary>
    private static async Task RequireScrapeKey(HttpContext context, RequestDelegate next)
    {
        var services = context.RequestServices;
        var auth = services.GetRequiredService<IApiKeyAuthenticator>();
        if (!auth.Enabled || services.GetRequiredService<IOptions<MetricsEndpointOptions>>().Value.AllowAnonymous)
        {
            await next(context);
            return;
        }
        var presented = Pipeline.RequestGate.PresentedKey(context.Request.Headers);
        var caller = string.IsNullOrEmpty(presented) ? null : await auth.AuthenticateAsync(presented, context.RequestAborted);
        if (caller is { IsMaster: true })
        {
            await next(context);
            return;
        }
        context.Response.StatusCode = caller is null ? StatusCodes.Status401Unauthorized : StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain; charset=utf-8";
        if (caller is null) context.Response.Headers.WWWAuthenticate = "Bearer realm=\"llmserver-metrics\"";
        await context.Response.WriteAsync(caller is null
            ? "/metrics needs the master key: send Authorization: Bearer <LLMSERVER_MASTER_KEY>, or set LlmServer:Metrics:AllowAnonymous=true.\n"
            : "/metrics needs the master key; a virtual key is not enough.\n", context.RequestAborted);
    }

    /// <summary>Wraps whichever session-chat upstream client is registered so its calls become client spans.</summary>
    private static void DecorateResponsesUpstream(IServiceCollection services)
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(IResponsesUpstream));
        if (registered is null) return;
        services.Remove(registered);
        services.TryAddSingleton(sp => new TracedResponsesUpstream(Create(sp, registered), sp.GetRequiredService<LlmServerTelemetry>(),
            ownsInner: registered.ImplementationInstance is null));
        services.Add(ServiceDescriptor.Describe(typeof(IResponsesUpstream), sp => sp.GetRequiredService<TracedResponsesUpstream>(), registered.Lifetime));

        static IResponsesUpstream Create(IServiceProvider sp, ServiceDescriptor d) => (IResponsesUpstream)(
            d.ImplementationInstance
            ?? d.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, d.ImplementationType!));
    }
}
