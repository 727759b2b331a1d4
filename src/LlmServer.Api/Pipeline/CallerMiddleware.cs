using System.Diagnostics;
using System.Globalization;
using LlmServer.Api.Dialects;
using LlmServer.Services.Auth;
using LlmServer.Services.Exchange;

namespace LlmServer.Api.Pipeline;

/// <summary>
/// Who is calling, for /v1 and /api/v1: the master key or a virtual key through <see cref="IApiKeyAuthenticator"/>,
/// presented as <c>Authorization: Bearer</c> or <c>x-api-key</c> (what the OpenAI and Anthropic SDKs send). Starts
/// the overhead clock that every /v1 response reports in x-llmserver-overhead-ms.
/// </summary>
internal sealed class CallerMiddleware(RequestDelegate next, IApiKeyAuthenticator authenticator)
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
                var error = ExchangeErrors.InvalidApiKey(missing: string.IsNullOrEmpty(key));
                await DialectErrorWriter.WriteAsync(ctx, DialectErrorWriter.DialectOf(path), error);
                return;
            }
            feature.Caller = caller;
        }
        await next(ctx);
    }

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
