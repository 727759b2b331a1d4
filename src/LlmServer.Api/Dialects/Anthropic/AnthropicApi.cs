using LlmServer.Dto.Anthropic;

namespace LlmServer.Api.Dialects.Anthropic;

/// <summary>
/// The Anthropic-compatible surface as minimal API endpoints over <see cref="MessagesProxy"/>. Send
/// <c>anthropic-version</c> and either <c>x-api-key</c> or <c>Authorization: Bearer</c>, as Anthropic's SDKs and
/// Claude Code do; errors use Anthropic's shape <c>{"type":"error","error":{"type","message"}}</c>.
/// </summary>
internal static class AnthropicApi
{
    public static IServiceCollection AddAnthropicApi(this IServiceCollection services)
    {
        services.AddSingleton<MessagesProxy>();
        return services;
    }

    public static IEndpointRouteBuilder MapAnthropicApi(this IEndpointRouteBuilder app)
    {
        var proxy = app.ServiceProvider.GetRequiredService<MessagesProxy>();
        var messages = app.MapGroup("/v1/messages").WithTags("Anthropic-compatible");
        messages.MapPost("", (Func<HttpContext, Task>)(ctx => proxy.MessagesAsync(ctx)))
            .WithSummary("Creates a message (plain JSON, or server-sent events when \"stream\": true).")
            .Produces<AnthropicMessage>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .Produces<AnthropicErrorResponse>(StatusCodes.Status400BadRequest);
        messages.MapPost("/count_tokens", (Func<HttpContext, Task>)(ctx => proxy.CountTokensAsync(ctx)))
            .WithSummary("Counts (estimates, unless an Anthropic upstream serves the model) the input tokens of a request.")
            .Produces<AnthropicCountTokensResponse>()
            .Produces<AnthropicErrorResponse>(StatusCodes.Status400BadRequest);
        return app;
    }
}
