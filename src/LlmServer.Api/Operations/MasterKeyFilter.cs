using LlmServer.Api.Dialects;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace LlmServer.Api.Operations;

/// <summary>The session API's error body: {"success":false,"error":{"code","message"},"trace_id"}.</summary>
internal static class ApiError
{
    public static IActionResult Create(HttpContext http, int status, string code, string message) =>
        DialectErrorWriter.Result(http, DialectErrorWriter.HostError(status, code, message));
}

/// <summary>
/// Master-key requirement for the operations endpoints (all under /api/v1, where <see cref="Pipeline.RequestGate"/>
/// has already authenticated the caller with the constant-time master-key / virtual-key check).
/// <see cref="Required"/>: refused when no master key is configured (the admin API);
/// otherwise open when none is configured (single-user local use: usage API, dashboard data).
/// A valid virtual key is not enough here: 403.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
internal sealed class MasterKeyAttribute(bool required) : Attribute, IAuthorizationFilter
{
    public bool Required { get; } = required;

    public void OnAuthorization(AuthorizationFilterContext context)
    {
        var http = context.HttpContext;
        var authenticator = http.RequestServices.GetRequiredService<LlmServer.Services.Auth.IApiKeyAuthenticator>();
        if (!authenticator.Enabled)
        {
            if (Required)
            {
                context.Result = ApiError.Create(http, StatusCodes.Status403Forbidden, "master_key_not_configured",
                    "The admin API needs a master key: set LLMSERVER_MASTER_KEY (LlmServer:Auth:MasterKey).");
            }
            return;
        }
        // NOTE: an unknown key never gets here (the middleware answered 401); a virtual key does.
        if (http.Features.Get<Pipeline.GatewayRequestFeature>()?.Caller.IsMaster != true)
        {
            context.Result = ApiError.Create(http, StatusCodes.Status403Forbidden, "master_key_required",
                "This endpoint needs the master key (Authorization: Bearer <master key>); a virtual key is not enough.");
        }
    }
}
