using LlmServer.Api.Errors;
using Microsoft.AspNetCore.Http.Features;

namespace LlmServer.Api.Filters;

/// <summary>Request body limit (LlmServer:Limits:MaxRequestBodyBytes, default 1 MB): 413 in the path's dialect.</summary>
internal static class BodySizeLimit
{
    public const string SettingKey = "LlmServer:Limits:MaxRequestBodyBytes";
    public const long Default = 1024 * 1024;

    public static long Of(HttpContext context) =>
        context.RequestServices.GetRequiredService<IConfiguration>().GetValue<long?>(SettingKey) ?? Default;

    /// <summary>Rejects a declared oversized body at once and caps the rest while it is read.</summary>
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app)
    {
        // NOTE: read once when the pipeline is built; a configuration lookup per request costs more than the check.
        var limit = app.ApplicationServices.GetRequiredService<IConfiguration>().GetValue<long?>(SettingKey) ?? Default;
        return app.Use((context, next) =>
        {
            if (context.Request.ContentLength is long length && length > limit)
            {
                var message = ApiErrorWriter.Localize(context, "payload_too_large", $"The request body exceeds the limit of {limit} bytes.",
                    [limit.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                return ApiErrorWriter.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "payload_too_large", message);
            }
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = limit;
            }
            return next(context);
        });
    }
}
