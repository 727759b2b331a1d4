using System.Text.Json;
using LlmServer.Dto.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Routing;

namespace LlmServer.Api.Dialects.OpenAi;

/// <summary>
/// The OpenAI/vLLM-compatible surface as minimal API endpoints: the proxied operations are plain request
/// delegates over <see cref="OpenAiExchange"/> (the body is never bound, so MVC would only add cost), and the
/// model listing that every client reads first.
/// </summary>
internal static class OpenAiApi
{
    public static IServiceCollection AddOpenAiApi(this IServiceCollection services)
    {
        services.AddSingleton<OpenAiExchange>();
        services.AddSingleton<ChatCompletionsViaAnthropic>();
        return services;
    }

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var exchange = app.ServiceProvider.GetRequiredService<OpenAiExchange>();
        var v1 = app.MapGroup("/v1").WithTags("OpenAI-compatible");
        v1.MapPost("/chat/completions", ctx => exchange.ForwardAsync(ctx, ExchangeSurface.ChatCompletions))
            .WithSummary("Creates a chat completion (plain or SSE stream); x-session-id adds stored session history.");
        v1.MapPost("/completions", ctx => exchange.ForwardAsync(ctx, ExchangeSurface.Completions))
            .WithSummary("Creates a (legacy) text completion.");
        v1.MapPost("/responses", ctx => exchange.ForwardAsync(ctx, ExchangeSurface.Responses))
            .WithSummary("Creates a model response (Responses API).");
        v1.MapGet("/responses/{id}", (HttpContext ctx, string id) => exchange.RetrieveResponseAsync(ctx, id))
            .WithSummary("Retrieves a model response.");
        v1.MapPost("/embeddings", ctx => exchange.ForwardAsync(ctx, ExchangeSurface.Embeddings))
            .WithSummary("Creates embeddings.");
        v1.MapGet("/models", (HttpContext ctx, IModelRouter router) => ListModelsAsync(ctx, router))
            .WithSummary("Lists the routable models (Anthropic's list shape when the request carries anthropic-version).")
            .Produces<ModelList>();
        v1.MapGet("/models/{**id}", (HttpContext ctx, IModelRouter router, string id) => GetModelAsync(ctx, router, id))
            .WithSummary("Describes one model (aliases resolve to their model).")
            .Produces<ModelCard>().Produces<OpenAiErrorResponse>(StatusCodes.Status404NotFound);
        return app;
    }

    private static Task ListModelsAsync(HttpContext ctx, IModelRouter router)
    {
        // NOTE: Claude Code's gateway model discovery and the Anthropic SDKs read Anthropic's shape from the same path.
        if (ctx.Request.Headers.ContainsKey("anthropic-version"))
        {
            var models = router.Models.Select(m => new Dto.Anthropic.AnthropicModelInfo
            {
                Id = m.Name, DisplayName = m.Name,
                CreatedAt = DateTimeOffset.FromUnixTimeSeconds(m.Created).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            }).ToArray();
            return WriteJsonAsync(ctx, new Dto.Anthropic.AnthropicModelList
            {
                Data = models, HasMore = false, FirstId = models.FirstOrDefault()?.Id, LastId = models.LastOrDefault()?.Id,
            }, Dto.Anthropic.AnthropicModelsJsonContext.Default.AnthropicModelList);
        }
        return WriteJsonAsync(ctx, new ModelList { Data = router.Models.Select(Card).ToArray() }, OpenAiJsonContext.Default.ModelList);
    }

    private static Task GetModelAsync(HttpContext ctx, IModelRouter router, string id)
    {
        if (router.TryResolve(id, out var route)) return WriteJsonAsync(ctx, Card(route.Model) with { Id = id }, OpenAiJsonContext.Default.ModelCard);
        // NOTE: the SDKs' models.retrieve() treats any 200 as a model; an unknown one is a 404 in the caller's dialect.
        var dialect = ctx.Request.Headers.ContainsKey("anthropic-version") ? Dialect.Anthropic : Dialect.OpenAi;
        return DialectErrorWriter.WriteAsync(ctx, dialect, ExchangeErrors.ModelNotFound(id));
    }

    private static ModelCard Card(ModelEntry m) => new()
    {
        Id = m.Name,
        Created = m.Created,
        OwnedBy = m.OwnedBy,
        Root = m.Root,
        MaxModelLen = m.MaxModelLen,
    };

    private static Task WriteJsonAsync<T>(HttpContext ctx, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(ctx.Response.Body, value, info, ctx.RequestAborted);
    }
}
