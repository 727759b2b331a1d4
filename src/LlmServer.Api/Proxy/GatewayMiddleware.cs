using System.Diagnostics;
using System.Globalization;
using LlmServer.Api.Pipeline;
using LlmServer.Services.Auth;

namespace LlmServer.Api.Proxy;

/// <summary>
/// Auth for /v1 and /api/v1 (master key now, virtual keys later through <see cref="IApiKeyAuthenticator"/>),
/// and the x-llmserver-overhead-ms header on every /v1 response. The proxied POST routes are dispatched here
/// directly: the hot path skips routing and the middleware that only the other APIs need.
/// </summary>
internal sealed class GatewayMiddleware(RequestDelegate next, IApiKeyAuthenticator authenticator, GatewayProxy proxy)
{
    public const string OverheadHeader = "x-llmserver-overhead-ms";

    private static readonly Func<object, Task> s_setOverhead = static state =>
    {
        var ctx = (HttpContext)state;
        if (ctx.Features.Get<GatewayRequestFeature>() is { } f)
        {
            ctx.Response.Headers[OverheadHeader] = f.OverheadMs.ToString("0.###", CultureInfo.InvariantCulture);
        }
        return Task.CompletedTask;
    };

    public async Task InvokeAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path;
        var v1 = path.StartsWithSegments("/v1");
        if (!v1 && !path.StartsWithSegments("/api/v1"))
        {
            await next(ctx);
            return;
        }
        var feature = new GatewayRequestFeature(Stopwatch.GetTimestamp());
        ctx.Features.Set(feature);
        if (v1) ctx.Response.OnStarting(s_setOverhead, ctx);
        if (authenticator.Enabled)
        {
            var key = PresentedKey(ctx.Request.Headers);
            var caller = await authenticator.AuthenticateAsync(key, ctx.RequestAborted);
            if (caller is null)
            {
                await GatewayErrors.WriteUnauthorizedAsync(ctx, missing: string.IsNullOrEmpty(key));
                return;
            }
            feature.Caller = caller;
        }
        if (v1 && HttpMethods.IsPost(ctx.Request.Method) && HotRoute(path.Value!) is { } route)
        {
            await proxy.ForwardAsync(ctx, route);
            return;
        }
        await next(ctx);
    }

    /// <summary>The proxied POST routes by exact path (any other spelling still reaches the mapped endpoints).</summary>
    private static GatewayRoute? HotRoute(string path) => path switch
    {
        "/v1/chat/completions" => GatewayRoute.ChatCompletions,
        "/v1/completions" => GatewayRoute.Completions,
        "/v1/responses" => GatewayRoute.Responses,
        "/v1/embeddings" => GatewayRoute.Embeddings,
        _ => null,
    };

    internal static string? PresentedKey(IHeaderDictionary headers)
    {
        var auth = headers.Authorization;
        if (auth.Count > 0)
        {
            var value = auth[0];
            if (value is not null && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return value[7..].Trim();
        }
        var x = headers["x-api-key"];
        return x.Count > 0 ? x[0] : null;
    }
}
