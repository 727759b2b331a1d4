using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlmServer.Services.Exchange;

namespace LlmServer.Api.Dialects;

/// <summary>The API family a response is written in.</summary>
public enum Dialect
{
    /// <summary>/api/v1: {"success":false,"error":{"code","message"},"trace_id"}.</summary>
    Session,
    /// <summary>OpenAI's {"error":{"message","type","param","code"}}; streams end with a data: error chunk.</summary>
    OpenAi,
    /// <summary>OpenAI's Responses API: error bodies as OpenAI; a stream ends with an <c>event: error</c> event.</summary>
    OpenAiResponses,
    /// <summary>Anthropic's {"type":"error","error":{"type","message"}}; a stream ends with an <c>event: error</c> event.</summary>
    Anthropic,
}

/// <summary>
/// The one writer of <see cref="ExchangeError"/>s: the status, the Retry-After header and the body in the client's
/// dialect before a response has started, or the dialect's error event once a stream has.
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

    /// <summary>
    /// Writes <paramref name="error"/>: a whole error response, or (the response has started) the error event
    /// that ends the stream. A client already gone is not written to.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, Dialect dialect, ExchangeError error, string? localizedMessage = null)
    {
        if (context.Response.HasStarted)
        {
            try
            {
                await context.Response.Body.WriteAsync(StreamEvent(dialect, error), context.RequestAborted);
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
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        try
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
        }
    }

    /// <summary>The error body in a dialect (the session API's message localized by the caller).</summary>
    public static byte[] Body(Dialect dialect, ExchangeError error, string? localizedMessage = null, HttpContext? context = null)
    {
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
                    w.WriteString("message", error.Message);
                    w.WriteEndObject();
                    break;
                case Dialect.Session:
                    w.WriteBoolean("success", false);
                    w.WriteStartObject("error");
                    w.WriteString("code", error.Code);
                    w.WriteString("message", localizedMessage ?? error.Message);
                    w.WriteEndObject();
                    w.WriteString("trace_id", context?.TraceIdentifier);
                    break;
                default:
                    w.WriteStartObject("error");
                    w.WriteString("message", error.Message);
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
    public static byte[] StreamEvent(Dialect dialect, ExchangeError error)
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
                    w.WriteString("message", error.Message);
                    if (error.Param is null) w.WriteNull("param");
                    else w.WriteString("param", error.Param);
                    w.WriteEndObject();
                }
                break;
            case Dialect.Anthropic:
                buffer.Write("event: error\ndata: "u8);
                buffer.Write(Body(Dialect.Anthropic, error));
                break;
            default:
                buffer.Write("data: "u8);
                buffer.Write(Body(Dialect.OpenAi, error));
                break;
        }
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
