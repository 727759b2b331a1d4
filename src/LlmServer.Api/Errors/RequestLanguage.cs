using LlmServer.Services.Chat;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LlmServer.Api.Errors;

/// <summary>
/// "ko" or "en" from Accept-Language, else the path's default: English on the wire-compatible /v1 APIs (their
/// clients expect OpenAI's and Anthropic's English), the configured LlmServer:Chat:DefaultLanguage elsewhere.
/// </summary>
public static class RequestLanguage
{
    /// <summary>The language of this request.</summary>
    public static string Resolve(HttpContext context)
    {
        if (StringWithQualityHeaderValue.TryParseList(context.Request.Headers.AcceptLanguage, out var values))
        {
            foreach (var v in values.OrderByDescending(v => v.Quality ?? 1.0))
            {
                var tag = v.Value.Value ?? "";
                if (tag.StartsWith("ko", StringComparison.OrdinalIgnoreCase)) return "ko";
                if (tag.StartsWith("en", StringComparison.OrdinalIgnoreCase)) return "en";
            }
        }
        if (context.Request.Path.StartsWithSegments("/v1")) return "en";
        var configured = context.RequestServices.GetService<IOptionsMonitor<ChatOptions>>()?.CurrentValue.DefaultLanguage;
        return configured == "en" ? "en" : "ko";
    }
}
