using LlmServer.Api.Dialects;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Infrastructure;

namespace LlmServer.Api.Filters;

/// <summary>MVC's own client errors (415 wrong Content-Type, 404 ...) in the path's dialect instead of ProblemDetails.</summary>
internal sealed class DialectClientErrorFactory : IClientErrorFactory
{
    public IActionResult? GetClientError(ActionContext actionContext, IClientErrorActionResult clientError)
    {
        var http = actionContext.HttpContext;
        var status = clientError.StatusCode ?? StatusCodes.Status400BadRequest;
        var code = status switch
        {
            StatusCodes.Status415UnsupportedMediaType => "unsupported_media_type",
            StatusCodes.Status404NotFound => "not_found",
            _ => "bad_request",
        };
        var error = DialectErrorWriter.HostError(status, code, "Bad request.");
        return DialectErrorWriter.Result(http, error, DialectErrorWriter.Localize(http, error));
    }
}
