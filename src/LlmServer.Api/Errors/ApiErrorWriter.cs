using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Errors;

namespace LlmServer.Api.Errors;

/// <summary>The API family a path belongs to; each answers errors in its own shape.</summary>
public enum ErrorDialect
{
    /// <summary>/api/v1/*: {"success":false,"error":{"code","message"},"trace_id"}.</summary>
    Session,
    /// <summary>/v1/* (not messages): {"error":{"message","type","param","code"}}.</summary>
    OpenAi,
    /// <summary>/v1/messages: {"type":"error","error":{"type","message"}}.</summary>
    Anthropic,
}

/// <summary>
/// The one error writer of the host: status, localized message and body shape by path. Other areas reuse it
/// (413, malformed JSON, ...) so every API family answers in its own dialect.
/// </summary>
public static class ApiErrorWriter
{
    /// <summary>The dialect of a request path.</summary>
    public static ErrorDialect DialectOf(PathString path) =>
        path.StartsWithSegments("/v1/messages") ? ErrorDialect.Anthropic
        : path.StartsWithSegments("/v1") ? ErrorDialect.OpenAi
        : ErrorDialect.Session;

    /// <summary>The HTTP status of an error kind.</summary>
    public static int StatusOf(ErrorKind kind) => LlmServerException.StatusOf(kind);

    /// <summary>The body for an error, in the request's dialect, with the message in the request's language.</summary>
    public static JsonObject Body(HttpContext context, int status, string code, string message) =>
        Body(context, DialectOf(context.Request.Path), status, code, message);

    /// <summary>The body for an error in a given dialect (a path shared by two dialects, told apart by a header).</summary>
    public static JsonObject Body(HttpContext context, ErrorDialect dialect, int status, string code, string message)
    {
        // NOTE: the types come from the one catalogue's rules, so a 503 or a 429 is typed alike by every writer.
        var error = new Services.Exchange.ExchangeError(code, status, message);
        switch (dialect)
        {
            case ErrorDialect.Anthropic:
                return new JsonObject
                {
                    ["type"] = "error",
                    ["error"] = new JsonObject { ["type"] = error.AnthropicType, ["message"] = message },
                };
            case ErrorDialect.OpenAi:
                return new JsonObject
                {
                    ["error"] = new JsonObject { ["message"] = message, ["type"] = error.OpenAiType, ["param"] = null, ["code"] = code },
                };
            default:
                return new JsonObject
                {
                    ["success"] = false,
                    ["error"] = new JsonObject { ["code"] = code, ["message"] = message },
                    ["trace_id"] = context.TraceIdentifier,
                };
        }
    }

    /// <summary>Localized message of a code for this request (fallback when the code is unknown).</summary>
    public static string Localize(HttpContext context, string code, string fallback, IReadOnlyList<string>? args = null) =>
        ErrorCatalog.Message(code, RequestLanguage.Resolve(context), fallback, args);

    /// <summary>Status, code and localized message of an <see cref="LlmServerException"/>.</summary>
    public static (int Status, string Code, string Message) Describe(HttpContext context, LlmServerException ex) =>
        (ex.StatusCode, ex.Code, Localize(context, ex.Code, ex.Message, ex.Args));

    /// <summary>Writes an error response directly (middleware, outside MVC).</summary>
    public static async Task WriteAsync(HttpContext context, int status, string code, string message, string? retryAfter = null)
    {
        context.Response.StatusCode = status;
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(Body(context, status, code, message).ToJsonString(s_json), context.RequestAborted);
    }

    /// <summary>An MVC result for an error.</summary>
    public static Microsoft.AspNetCore.Mvc.IActionResult Result(HttpContext context, int status, string code, string message, string? retryAfter = null) =>
        ResultIn(context, DialectOf(context.Request.Path), status, code, message, retryAfter);

    /// <summary>An MVC result for an error in a given dialect.</summary>
    public static Microsoft.AspNetCore.Mvc.IActionResult ResultIn(HttpContext context, ErrorDialect dialect, int status, string code, string message, string? retryAfter = null)
    {
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }
        return new Microsoft.AspNetCore.Mvc.ContentResult
        {
            StatusCode = status,
            ContentType = "application/json; charset=utf-8",
            Content = Body(context, dialect, status, code, message).ToJsonString(s_json),
        };
    }

    private static readonly JsonSerializerOptions s_json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
