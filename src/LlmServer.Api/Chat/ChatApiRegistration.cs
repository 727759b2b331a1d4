using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;
using FluentValidation.AspNetCore;
using LlmServer.Api.Controllers;
using LlmServer.Api.Filters;
using LlmServer.Dto;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.OpenApi;

namespace LlmServer.Api.Chat;

/// <summary>Host setup of the session chat API: filters, error shapes, Swagger, health, system figures.</summary>
internal static class ChatApiRegistration
{
    public static IServiceCollection AddSessionChatApi(this IServiceCollection services)
    {
        // NOTE: one validator per request DTO; MVC runs it during model binding and a failure reaches
        // InvalidModelState, which answers in the route's dialect with the rule's error code. MVC validation is
        // synchronous, so the rules stay synchronous too (an async rule would throw there).
        services.AddValidatorsFromAssemblyContaining<DtoAssemblyMarker>(ServiceLifetime.Singleton);
        services.AddFluentValidationAutoValidation();
        services.AddSingleton<IValidatorInterceptor, ValidationFailures>();
        services.AddSingleton<RequestStats>();
        services.AddSingleton<SystemInfoCollector>();
        services.Configure<MvcOptions>(o =>
        {
            o.Filters.Add<ApiExceptionFilter>();
        });
        services.Configure<ApiBehaviorOptions>(o => o.InvalidModelStateResponseFactory = InvalidModelState.Create);
        services.AddSingleton<Microsoft.AspNetCore.Mvc.Infrastructure.IClientErrorFactory, DialectClientErrorFactory>();
        // NOTE: Korean text stays readable in JSON instead of \uXXXX escapes.
        services.Configure<JsonOptions>(o => o.JsonSerializerOptions.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        services.AddHealthChecks();
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "LlmServer",
                Version = "v1",
                Description = "Session chat API (/api/v1/chat), OpenAI/vLLM-compatible API (/v1/*), Anthropic-compatible API (/v1/messages).",
            });
            o.OperationFilter<ChatExamplesOperationFilter>();
            foreach (var xml in new[] { "LlmServer.Api.xml", "LlmServer.Dto.xml" })
            {
                var path = Path.Combine(AppContext.BaseDirectory, xml);
                if (File.Exists(path))
                {
                    o.IncludeXmlComments(path);
                }
            }
        });
        return services;
    }

    /// <summary>Swagger UI at /docs (after routing; the /v1 hot path never reaches it).</summary>
    public static IApplicationBuilder UseSessionChatDocs(this IApplicationBuilder app)
    {
        app.UseSwagger(o => o.RouteTemplate = "docs/{documentName}/swagger.json");
        app.UseSwaggerUI(o =>
        {
            o.RoutePrefix = "docs";
            o.SwaggerEndpoint("/docs/v1/swagger.json", "LlmServer v1");
            o.DocumentTitle = "LlmServer API";
        });
        return app;
    }

    /// <summary>GET /health: each component's state.</summary>
    public static WebApplication MapHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
        return app;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var components = new JsonObject();
        foreach (var (name, entry) in report.Entries)
        {
            components[name] = new JsonObject
            {
                ["status"] = SystemController.HealthText(entry.Status),
                ["description"] = entry.Description,
            };
        }
        var failing = report.Entries.Where(e => e.Value.Status == HealthStatus.Unhealthy).Select(e => (JsonNode)e.Key).ToArray();
        var body = new JsonObject
        {
            ["status"] = SystemController.HealthText(report.Status),
            ["components"] = components,
            ["failing"] = new JsonArray(failing),
        };
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(body.ToJsonString(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }
}
