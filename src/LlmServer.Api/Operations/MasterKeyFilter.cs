using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace LlmServer.Api.Operations;

/// <summary>The session API's error body: {"success":false,"error":{"code","message"},"trace_id"}.</summary>
internal static class ApiError
{
    public static ObjectResult Create(HttpContext http, int status, string code, string message) =>
        new(new { success = false, error = new { code, message }, trace_id = Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier })
        {
            StatusCode = status,
        };
}

/// <summary>
/// Master-key check for the operations endpoints (Authorization: Bearer &lt;key&gt; or x-api-key).
/// <see cref="Required"/>: refused when no master key is configured (the admin API);
/// otherwise open when none is configured (single-user local use: usage API, dashboard data).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
internal sealed class MasterKeyAttribute(bool required) : Attribute, IAsyncAuthorizationFilter
{
    public bool Required { get; } = required;

    public Task OnAuthorizationAsync(AuthorizationFilterContext context)
    {
        var http = context.HttpContext;
        var master = http.RequestServices.GetRequiredService<IConfiguration>()["LlmServer:Auth:MasterKey"];
        if (string.IsNullOrEmpty(master))
        {
            if (Required)
            {
                context.Result = ApiError.Create(http, StatusCodes.Status403Forbidden, "master_key_not_configured",
                    "The admin API needs a master key: set LLMSERVER_MASTER_KEY (LlmServer:Auth:MasterKey).");
            }
            return Task.CompletedTask;
        }
        var presented = Presented(http.Request);
        if (presented is null || !FixedTimeEquals(presented, master))
        {
            context.Result = ApiError.Create(http, StatusCodes.Status401Unauthorized, "unauthorized",
                "This endpoint needs the master key (Authorization: Bearer <master key>).");
        }
        return Task.CompletedTask;
    }

    private static string? Presented(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return auth["Bearer ".Length..].Trim();
        }
        var apiKey = request.Headers["x-api-key"].ToString();
        return apiKey.Length > 0 ? apiKey : null;
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));
}
