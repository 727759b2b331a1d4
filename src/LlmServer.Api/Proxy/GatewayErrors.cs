using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlmServer.Dto.OpenAi;

namespace LlmServer.Api.Proxy;

/// <summary>Error bodies in each API family's dialect. Messages never carry internal addresses.</summary>
internal static class GatewayErrors
{
    public static Task WriteOpenAiAsync(HttpContext ctx, int status, string message, string type, string? param, string? code)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        var body = Serialize(new OpenAiErrorResponse { Error = new OpenAiError { Message = message, Type = type, Param = param, Code = code } });
        ctx.Response.ContentLength = body.Length;
        return ctx.Response.Body.WriteAsync(body, ctx.RequestAborted).AsTask();
    }

    /// <summary>Backticks and non-ASCII stay readable (OpenAI writes "The model `x` does not exist.").</summary>
    internal static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Serialize(OpenAiErrorResponse error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, Relaxed)) JsonSerializer.Serialize(w, error, OpenAiJsonContext.Default.OpenAiErrorResponse);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The data: line that ends a stream that failed after it started (no [DONE] follows).</summary>
    public static byte[] StreamErrorEvent(bool responsesApi, string message, string code)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, Relaxed))
        {
            w.WriteStartObject();
            if (responsesApi)
            {
                // NOTE: the Responses API streams errors as {"type":"error","code","message","param"} under event: error.
                w.WriteString("type", "error");
                w.WriteString("code", code);
                w.WriteString("message", message);
                w.WriteNull("param");
            }
            else
            {
                w.WriteStartObject("error");
                w.WriteString("message", message);
                w.WriteString("type", "server_error");
                w.WriteNull("param");
                w.WriteString("code", code);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        var prefix = responsesApi ? "event: error\ndata: "u8 : "data: "u8;
        var result = new byte[prefix.Length + ms.Length + 2];
        prefix.CopyTo(result);
        ms.GetBuffer().AsSpan(0, (int)ms.Length).CopyTo(result.AsSpan(prefix.Length));
        result[^2] = (byte)'\n';
        result[^1] = (byte)'\n';
        return result;
    }

    /// <summary>401 in the dialect of the route: Anthropic on /v1/messages, session API on /api/v1, OpenAI elsewhere.</summary>
    public static Task WriteUnauthorizedAsync(HttpContext ctx, bool missing)
    {
        var path = ctx.Request.Path;
        var message = missing
            ? "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
            : "Incorrect API key provided.";
        ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
        ctx.Response.ContentType = "application/json";
        if (path.StartsWithSegments("/v1/messages"))
        {
            return WriteJsonAsync(ctx, w =>
            {
                w.WriteString("type", "error");
                w.WriteStartObject("error");
                w.WriteString("type", "authentication_error");
                w.WriteString("message", message);
                w.WriteEndObject();
            });
        }
        if (path.StartsWithSegments("/api"))
        {
            return WriteJsonAsync(ctx, w =>
            {
                w.WriteBoolean("success", false);
                w.WriteStartObject("error");
                w.WriteString("code", "unauthorized");
                w.WriteString("message", message);
                w.WriteEndObject();
                w.WriteString("trace_id", System.Diagnostics.Activity.Current?.TraceId.ToString() ?? ctx.TraceIdentifier);
            });
        }
        return WriteOpenAiAsync(ctx, 401, message, "invalid_request_error", null, "invalid_api_key");
    }

    private static Task WriteJsonAsync(HttpContext ctx, Action<Utf8JsonWriter> body)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, Relaxed))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        ctx.Response.ContentLength = ms.Length;
        return ctx.Response.Body.WriteAsync(ms.GetBuffer().AsMemory(0, (int)ms.Length), ctx.RequestAborted).AsTask();
    }
}
