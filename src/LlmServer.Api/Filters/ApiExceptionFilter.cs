using LlmServer.Api.Dialects;
using LlmServer.Services.Errors;
using Microsoft.AspNetCore.Mvc.Filters;

namespace LlmServer.Api.Filters;

/// <summary>
/// The one mapping from failures to responses: validation 400, configuration missing 503, bad user key 401,
/// rate limited 429 (+ Retry-After), unreachable 502, timeout 504, in the path's dialect
/// (body-reading failures and anything unexpected go on to <see cref="Errors.UnhandledExceptionHandler"/>).
/// </summary>
internal sealed partial class ApiExceptionFilter(ILogger<ApiExceptionFilter> logger) : IExceptionFilter
{
    public void OnException(ExceptionContext context)
    {
        var http = context.HttpContext;
        switch (context.Exception)
        {
            case LlmServerException ex:
                // NOTE: a catalogue entry carries its own Retry-After (none for a budget that never resets).
                var error = DialectErrorWriter.Of(ex);
                Log.Mapped(logger, error.Status, error.Code);
                context.Result = DialectErrorWriter.Result(http, error, DialectErrorWriter.Localize(http, error));
                context.ExceptionHandled = true;
                break;
            case OperationCanceledException when http.RequestAborted.IsCancellationRequested:
                // NOTE: the client went away; nothing to answer and not a server error.
                context.Result = new Microsoft.AspNetCore.Mvc.EmptyResult();
                context.ExceptionHandled = true;
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Request answered {Status} {Code}")]
        public static partial void Mapped(ILogger logger, int status, string code);
    }
}
