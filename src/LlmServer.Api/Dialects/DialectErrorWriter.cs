using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlmServer.Api.Errors;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Dialects;

/// <summary>The API family a response is written in.</summary>
public enum Dialect
{
    /// <summary>/api/v1: {"success":false,"error":{"code","message"},"trace_id"}; a stream ends with an <c>event: error</c> event carrying the same body.</summary>
    Session,
    /// <summary>OpenAI's {"error":{"message","type","param","code"}}; streams end with a data: error chunk.</summary>
    OpenAi,
    /// <summary>OpenAI's Responses API: error bodies as OpenAI; a stream ends with an <c>event: error</c> event.</summary>
    OpenAiResponses,
    /// <summary>Anthropic's {"type":"error","error":{"type","message"}}; a stream ends with an <c>event: error</c> event.</summary>
    Anthropic,
}

/// <summary>
/// The one writer of error answers, for every API and every part of the host (the adapters, the exception filter
/// and handler, the bad-input guards, the framework's empty errors, the stream error events): the status, the
/// Retry-After header and the body in the client's dialect before a response has started, or the dialect's error
/// event once a stream has. Every error is an <see cref="ExchangeError"/>: the catalogue's, or one the host makes
/// with <see cref="HostError"/>.
/// </summary>
public static class DialectErrorWriter
{
    /// <summary>The dialect of a request path: Anthropic on /v1/messages, the Responses API on /v1/responses, OpenAI elsewhere under /v1, the session API otherwise.</summary>
    public static Dialect DialectOf(PathString path) =>
        path.StartsWithSegments("/v1/messages") ? Dialect.Anthropic
        : path.StartsWithSegments("/v1/responses") ? Dialect.OpenAiResponses
        : path.StartsWithSegments("/v1") ? Dialect.OpenAi
        : Dialect.Session;

    /// <summary>Backticks and non-ASCII stay readable (OpenAI writes "The model `x` does not exist.").</summary>
    internal static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private const string JsonContentType = "application/json; charset=utf-8";

    /// <summary>
    /// An error the host answers itself, outside the exchange catalogue (bad input, no route, a failure no API
    /// mapped): <paramref name="message"/> is the English text; <paramref name="args"/> fill the localized one.
    /// </summary>
    public static ExchangeError HostError(int status, string code, string message, params string[] args) => new(code, status, message) { Args = args };

    /// <summary>The error an <see cref="LlmServerException"/> stands for: its code, status, arguments and Retry-After.</summary>
    public static ExchangeError Of(LlmServerException exception) => new(exception.Code, exception.StatusCode, exception.Message)
    {
        Args = exception.Args,
        RetryAfterSeconds = long.TryParse(exception.RetryAfter, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? seconds : null,
    };

    /// <summary>The message of <paramref name="error"/> in the request's language (its own English text when the catalogue has none).</summary>
    public static string Localize(HttpContext context, ExchangeError error) =>
        ErrorCatalog.Message(error.Code, RequestLanguage.Resolve(context), error.Message, error.Args);

    /// <summary>Writes <paramref name="error"/> in the path's dialect, its message in the request's language.</summary>
    public static Task WriteLocalizedAsync(HttpContext context, ExchangeError error) =>
        WriteAsync(context, DialectOf(context.Request.Path), error, Localize(context, error));

    /// <summary>An MVC result that writes <paramref name="error"/> in the path's dialect, with <paramref name="message"/> (already localized) or its own.</summary>
    public static IActionResult Result(HttpContext context, ExchangeError error, string? message = null) =>
        new ErrorResult(DialectOf(context.Request.Path), error, message);

    private sealed class ErrorResult(Dialect dialect, ExchangeError error, string? message) : IActionResult
    {
        public Task ExecuteResultAsync(ActionContext context) => WriteAsync(context.HttpContext, dialect, error, message);
    }

    /// <summary>
    /// Writes <paramref name="error"/>: a whole error response, or (the response has started) the error event
    /// that ends the stream. <paramref name="localizedMessage"/> replaces the error's English text (the request's
    /// language). A client already gone is not written to.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, Dialect dialect, ExchangeError error, string? localizedMessage = null)
    {
        if (context.Response.HasStarted)
        {
            try
            {
                await context.Response.Body.WriteAsync(StreamEvent(dialect, error, localizedMessage, context), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }
            return;
        }
        var body = Body(dialect, error, localizedMessage, context);
        context.Response.StatusCode = error.Status;
        if (error.RetryAfterSeconds is { } retry) context.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        context.Response.ContentType = JsonContentType;
        context.Response.ContentLength = body.Length;
        try
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
        }
    }

    /// <summary>The error body in a dialect; <paramref name="context"/> gives the session API's trace_id.</summary>
    public static byte[] Body(Dialect dialect, ExchangeError error, string? localizedMessage = null, HttpContext? context = null)
    {
        var message = localizedMessage ?? error.Message;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, Relaxed))
        {
            w.WriteStartObject();
            switch (dialect)
            {
                case Dialect.Anthropic:
                    w.WriteString("type", "error");
                    w.WriteStartObject("error");
                    w.WriteString("type", error.AnthropicType);
                    w.WriteString("message", message);
                    w.WriteEndObject();
                    break;
                case Dialect.Session:
                    w.WriteBoolean("success", false);
                    w.WriteStartObject("error");
                    w.WriteString("code", error.Code);
                    w.WriteString("message", message);
                    w.WriteEndObject();
                    w.WriteString("trace_id", context?.TraceIdentifier);
                    break;
                default:
                    w.WriteStartObject("error");
                    w.WriteString("message", message);
                    w.WriteString("type", error.OpenAiType);
                    if (error.Param is null) w.WriteNull("param");
                    else w.WriteString("param", error.Param);
                    w.WriteString("code", error.Code);
                    w.WriteEndObject();
                    break;
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The event that ends a stream which failed after it started (no [DONE] follows).</summary>
    public static byte[] StreamEvent(Dialect dialect, ExchangeError error, string? localizedMessage = null, HttpContext? context = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        switch (dialect)
        {
            case Dialect.OpenAiResponses:
                buffer.Write("event: error\ndata: "u8);
                using (var w = new Utf8JsonWriter(buffer, Relaxed))
                {
                    // NOTE: the Responses API streams errors as {"type":"error","code","message","param"} under event: error.
                    w.WriteStartObject();
                    w.WriteString("type", "error");
                    w.WriteString("code", error.Code);
                    w.WriteString("message", localizedMessage ?? error.Message);
                    if (error.Param is null) w.WriteNull("param");
                    else w.WriteString("param", error.Param);
                    w.WriteEndObject();
                }
                break;
            case Dialect.Anthropic or Dialect.Session:
                buffer.Write("event: error\ndata: "u8);
                buffer.Write(Body(dialect, error, localizedMessage, context));
                break;
            default:
                buffer.Write("data: "u8);
                buffer.Write(Body(Dialect.OpenAi, error, localizedMessage));
                break;
        }
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
