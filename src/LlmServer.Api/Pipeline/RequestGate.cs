using System.Diagnostics;
using System.Globalization;
using LlmServer.Api.Chat;
using LlmServer.Api.Dialects;
using LlmServer.Api.Errors;
using LlmServer.Api.Filters;
using LlmServer.Services.Auth;
using LlmServer.Services.Exchange;
using LlmServer.Services.Operations;
using LlmServer.Services.Routing;
using Microsoft.Extensions.Options;

namespace LlmServer.Api.Pipeline;

/// <summary>
/// What every request passes before routing, as one step of the pipeline rather than five nested ones (each
/// nested async step costs every request a frame and a continuation):
/// <list type="number">
/// <item>counted in flight, so the ledger's last flush on shutdown waits for it, and timed for the status figures;</item>
/// <item>its declared body size and charset checked against its API family's limit;</item>
/// <item>on /v1 and /api/v1, its caller known: the master key or a virtual key through <see cref="IApiKeyAuthenticator"/>,
/// presented as <c>Authorization: Bearer</c> or <c>x-api-key</c> (what the OpenAI and Anthropic SDKs send), and the
/// overhead clock started that every /v1 response reports in x-llmserver-overhead-ms;</item>
/// <item>on the way out, an exception or an error the framework left without a body answered in the path's dialect.</item>
/// </list>
/// </summary>
internal sealed class RequestGate(
    RequestDelegate next,
    InFlightRequests inFlight,
    RequestStats stats,
    IApiKeyAuthenticator authenticator,
    UnhandledExceptionHandler unhandled,
    IOptions<RequestLimitsOptions> sessionLimits,
    IOptions<GatewayOptions> wireLimits)
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

    // NOTE: read once; an options lookup per request costs more than the check it feeds.
    private readonly long _sessionLimit = sessionLimits.Value.MaxRequestBodyBytes;
    private readonly long _wireLimit = wireLimits.Value.MaxRequestBodyBytes;

    public async Task InvokeAsync(HttpContext ctx)
    {
        inFlight.Enter();
        var start = Stopwatch.GetTimestamp();
        try
        {
            try
            {
                var path = ctx.Request.Path;
                var v1 = path.StartsWithSegments("/v1");
                if (RequestBodyGuard.Refuse(ctx, v1 ? _wireLimit : _sessionLimit) is { } refused)
                {
                    await refused;
                }
                else if (await IdentifyAsync(ctx, path, v1, start))
                {
                    await next(ctx);
                }
                if (EmptyErrorBodies.Applies(ctx)) await EmptyErrorBodies.WriteAsync(ctx);
            }
            catch (Exception e) when (!ctx.Response.HasStarted)
            {
                // NOTE: once the answer has started there is nothing left to write; the exception goes on to the
                // server, which ends the connection so the client sees a broken answer, not a complete one.
                ctx.Response.Clear();
                ctx.Response.StatusCode = StatusCodes.Status500InternalServerError;
                await unhandled.TryHandleAsync(ctx, e, ctx.RequestAborted);
            }
        }
        finally
        {
            stats.Record(ctx.RequestAborted.IsCancellationRequested && !ctx.Response.HasStarted ? 499 : ctx.Response.StatusCode,
                Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            inFlight.Exit();
        }
    }

    /// <summary>Who calls /v1 and /api/v1; false when the key is refused (the 401 is written).</summary>
    private async ValueTask<bool> IdentifyAsync(HttpContext ctx, PathString path, bool v1, long start)
    {
        if (!v1 && !path.StartsWithSegments("/api/v1")) return true;
        var feature = new GatewayRequestFeature(start);
        ctx.Features.Set(feature);
        if (v1) ctx.Response.OnStarting(s_setOverhead, ctx);
        if (!authenticator.Enabled) return true;
        var key = PresentedKey(ctx.Request.Headers);
        var caller = await authenticator.AuthenticateAsync(key, ctx.RequestAborted);
        if (caller is null)
        {
            await DialectErrorWriter.WriteAsync(ctx, DialectErrorWriter.DialectOf(path), ExchangeErrors.InvalidApiKey(missing: string.IsNullOrEmpty(key)));
            return false;
        }
        feature.Caller = caller;
        return true;
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
