using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmServer.FakeUpstream;

/// <summary>
/// Azure OpenAI's addressing in front of the OpenAI endpoints: the v1 style (/openai/v1/...), the classic
/// deployment style (/openai/deployments/{deployment}/chat/completions?api-version=...) and the classic
/// resource-wide Responses API (/openai/responses?api-version=...). Every call needs the api-key header
/// (Authorization: Bearer is not a key here); a wrong one is 401 in Azure's error shape.
/// </summary>
internal static class AzurePaths
{
    private const string AccessDenied =
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";

    public static bool IsAzure(HttpContext ctx) => ctx.Request.Path.StartsWithSegments("/openai");

    /// <summary>Checks the key and api-version and rewrites the path to the OpenAI endpoint; false when it answered an error.</summary>
    public static async Task<bool> AdmitAsync(HttpContext ctx, FakeUpstreamServer server)
    {
        var key = ctx.Request.Headers["api-key"].ToString();
        if (key.Length == 0 || (server.ValidKeys.Count > 0 && !server.ValidKeys.Contains(key)))
        {
            await WriteAsync(ctx, 401, AccessDenied);
            return false;
        }
        var path = ctx.Request.Path.Value!;
        if (path.StartsWith("/openai/v1/", StringComparison.Ordinal))
        {
            ctx.Request.Path = path["/openai".Length..];
            return true;
        }
        if (string.IsNullOrEmpty(ctx.Request.Query["api-version"]))
        {
            await WriteAsync(ctx, 404, "Resource not found");
            return false;
        }
        const string deployments = "/openai/deployments/";
        if (path.StartsWith(deployments, StringComparison.Ordinal))
        {
            var rest = path[deployments.Length..];
            var slash = rest.IndexOf('/');
            if (slash <= 0)
            {
                await WriteAsync(ctx, 404, "Resource not found");
                return false;
            }
            ctx.Request.Path = "/v1" + rest[slash..];
            return true;
        }
        ctx.Request.Path = "/v1" + path["/openai".Length..];
        return true;
    }

    private static Task WriteAsync(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        var body = new JsonObject { ["error"] = new JsonObject { ["code"] = status.ToString(System.Globalization.CultureInfo.InvariantCulture), ["message"] = message } };
        return ctx.Response.WriteAsync(body.ToJsonString());
    }
}
