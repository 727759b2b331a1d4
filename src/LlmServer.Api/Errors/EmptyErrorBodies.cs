using LlmServer.Api.Dialects;

namespace LlmServer.Api.Errors;

/// <summary>
/// Gives a body to the errors the framework answers without one (no route for the path: 404; a route with
/// other methods: 405, its Allow header kept), in the dialect of the path's prefix, so a client's error parser
/// always finds the shape it expects.
/// </summary>
internal static class EmptyErrorBodies
{
    /// <summary>True when the answer is an error the framework left without a body and the client is still there.</summary>
    public static bool Applies(HttpContext http)
    {
        var response = http.Response;
        return !response.HasStarted && response.StatusCode >= 400 && response.ContentLength is null && string.IsNullOrEmpty(response.ContentType)
            && !http.RequestAborted.IsCancellationRequested;
    }

    /// <summary>The error's body in the dialect of the path's prefix.</summary>
    public static Task WriteAsync(HttpContext http)
    {
        var status = http.Response.StatusCode;
        var (code, fallback) = status switch
        {
            StatusCodes.Status404NotFound => ("not_found", "The requested resource was not found."),
            StatusCodes.Status405MethodNotAllowed => ("method_not_allowed", "This method is not allowed on this path; allowed: " + http.Response.Headers.Allow + "."),
            StatusCodes.Status415UnsupportedMediaType => ("unsupported_media_type", "Content-Type must be application/json."),
            >= 500 => ("internal_error", "The server failed to process the request."),
            _ => ("bad_request", "Bad request."),
        };
        string[] args = status == StatusCodes.Status405MethodNotAllowed ? [http.Response.Headers.Allow.ToString()] : [];
        return DialectErrorWriter.WriteLocalizedAsync(http, DialectErrorWriter.HostError(status, code, fallback, args));
    }
}
