using LlmServer.Api.Dialects;
using LlmServer.Api.Errors;
using LlmServer.Services.Exchange;
using LlmServer.Services.Routing;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LlmServer.Api.Filters;

/// <summary>
/// What every request body passes first: one size limit per API family (the wire-compatible /v1 and
/// /v1/messages take the multi-MB bodies coding agents send, LlmServer:Gateway:MaxRequestBodyBytes; the session
/// chat and operations APIs keep LlmServer:Limits:MaxRequestBodyBytes), and UTF-8 as the only charset.
/// Refusals answer in the path's dialect and leave a ledger row.
/// </summary>
internal static class RequestBodyGuard
{
    /// <summary>The body limit that applies to this request's path.</summary>
    public static long Of(HttpContext context) =>
        DialectErrorWriter.DialectOf(context.Request.Path) == Dialect.Session
            ? context.RequestServices.GetRequiredService<IOptions<RequestLimitsOptions>>().Value.MaxRequestBodyBytes
            : context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxRequestBodyBytes;

    /// <summary>413 in the path's dialect, and its ledger row.</summary>
    public static Task WriteTooLargeAsync(HttpContext context)
    {
        var error = ExchangeErrors.PayloadTooLarge(Of(context));
        RejectedRequestLedger.Record(context, error.Status, error.Code);
        context.Response.Clear();
        return DialectErrorWriter.WriteLocalizedAsync(context, error);
    }

    /// <summary>
    /// Refuses a declared oversized body or a non-UTF-8 charset at once (the refusal's write, else null) and caps
    /// the rest of the body at <paramref name="limit"/> while it is read.
    /// </summary>
    public static Task? Refuse(HttpContext context, long limit)
    {
        if (context.Request.ContentLength is long length && length > limit)
        {
            return WriteTooLargeAsync(context);
        }
        if (!IsUtf8(context.Request.ContentType))
        {
            RejectedRequestLedger.Record(context, StatusCodes.Status415UnsupportedMediaType, "unsupported_charset");
            return DialectErrorWriter.WriteLocalizedAsync(context, DialectErrorWriter.HostError(StatusCodes.Status415UnsupportedMediaType, "unsupported_charset",
                "The request body must be JSON encoded as UTF-8 (charset=utf-8)."));
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }
        return null;
    }

    /// <summary>True when the Content-Type names no charset or UTF-8 (JSON is UTF-8 on the wire, RFC 8259).</summary>
    private static bool IsUtf8(string? contentType)
    {
        if (contentType is null || contentType.IndexOf("charset", StringComparison.OrdinalIgnoreCase) < 0) return true;
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media)) return true;
        var charset = media.Charset.Value?.Trim('"');
        return string.IsNullOrEmpty(charset) || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
    }
}
