using LlmServer.Api.Dialects;
using Microsoft.AspNetCore.Diagnostics;

namespace LlmServer.Api.Errors;

/// <summary>
/// The last line of defence: any exception no specific mapping caught is answered in the route's dialect
/// (500 with the trace id, so an operator can find the one log line), counted in
/// <c>llmserver_unhandled_errors_total{route}</c>, and logged without any of the request's content.
/// Body-reading failures Kestrel raises (over the limit while reading a chunked body, malformed framing) keep
/// their own 4xx status. A client that went away is not an error and gets nothing.
/// </summary>
internal sealed partial class UnhandledExceptionHandler(UnhandledErrorMetrics metrics, ILogger<UnhandledExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            context.Response.StatusCode = 499;
            return true;
        }
        try
        {
            return await AnswerAsync(context, exception);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // NOTE: the client went away while its body was read or the answer written (a load generator stopping,
            // a closed tab): nothing is left to answer, and it is no server error.
            context.Response.StatusCode = 499;
            return true;
        }
    }

    private async ValueTask<bool> AnswerAsync(HttpContext context, Exception exception)
    {
        if (exception is BadHttpRequestException bad)
        {
            if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await Filters.RequestBodyGuard.WriteTooLargeAsync(context);
                return true;
            }
            LogBadRequest(logger, bad.StatusCode, RouteLabel.Of(context.Request.Path));
            await DialectErrorWriter.WriteLocalizedAsync(context, DialectErrorWriter.HostError(bad.StatusCode, "bad_request", "Bad request."));
            return true;
        }
        var route = RouteLabel.Of(context.Request.Path);
        // NOTE: the same id the session API's body carries as trace_id, so the answer leads to the log line.
        var traceId = context.TraceIdentifier;
        metrics.Count(route);
        // NOTE: only the exception type and the throwing method: exception messages can quote the request body.
        var site = Site(exception);
        LogUnhandled(logger, exception.GetType().Name, site, route, traceId);
        context.Response.Clear();
        await DialectErrorWriter.WriteLocalizedAsync(context, DialectErrorWriter.HostError(StatusCodes.Status500InternalServerError, "internal_error",
            "The server failed to process the request (trace id " + traceId + ").", traceId));
        return true;
    }

    /// <summary>The innermost frame in the server's own code (type and method names only), else the throwing method.</summary>
    private static string Site(Exception exception)
    {
        foreach (var frame in new System.Diagnostics.StackTrace(exception, fNeedFileInfo: false).GetFrames())
        {
            var type = frame.GetMethod()?.DeclaringType;
            // NOTE: async methods run in a compiler-generated state machine nested in the type that declares them.
            var owner = type?.DeclaringType is { } outer && type.Name.StartsWith('<') ? outer : type;
            if (owner?.Namespace?.StartsWith("LlmServer", StringComparison.Ordinal) == true)
            {
                var method = type!.Name.StartsWith('<') ? type.Name[1..type.Name.IndexOf('>', StringComparison.Ordinal)] : frame.GetMethod()!.Name;
                return owner.Name + "." + method;
            }
        }
        return exception.TargetSite is { } m ? m.DeclaringType?.Name + "." + m.Name : "-";
    }

    [LoggerMessage(EventId = 2290, Level = LogLevel.Error, Message = "Unhandled {ExceptionType} at {Site} on route {Route}, trace id {TraceId}")]
    private static partial void LogUnhandled(ILogger logger, string exceptionType, string site, string route, string traceId);

    [LoggerMessage(EventId = 2291, Level = LogLevel.Information, Message = "Request body refused by the server ({Status}) on route {Route}")]
    private static partial void LogBadRequest(ILogger logger, int status, string route);
}
