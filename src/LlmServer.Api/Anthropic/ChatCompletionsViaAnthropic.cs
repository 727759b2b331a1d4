using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.External.Anthropic;
using LlmServer.Services.Anthropic;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LlmServer.Api.Anthropic;

/// <summary>
/// The reverse direction, ready for the gateway's router: serves a /v1/chat/completions request whose model an
/// anthropic upstream serves. Translates the chat request to Anthropic Messages, the message (or its events)
/// back to chat.completion (or chunks ending with <c>data: [DONE]</c>). Errors use OpenAI's shape.
/// </summary>
public sealed partial class ChatCompletionsViaAnthropic(
    UpstreamHttpClients clients,
    IOptionsMonitor<ProviderEndpointOptions> providers,
    ILogger<ChatCompletionsViaAnthropic> logger)
{
    private const string DefaultAnthropicVersion = "2023-06-01";

    /// <summary>Handles the request; <paramref name="chatRequest"/> is the parsed, validated OpenAI body.</summary>
    public async Task HandleAsync(HttpContext context, JsonObject chatRequest, MessagesUpstream upstream)
    {
        JsonObject request;
        try
        {
            request = ChatToMessagesRequest.Translate(chatRequest, upstream.Model);
        }
        catch (AnthropicTranslationException e)
        {
            await WriteErrorAsync(context, 400, "invalid_request_error", e.Message, null);
            return;
        }
        var model = (string?)chatRequest["model"];
        var stream = request["stream"] is JsonValue s && s.TryGetValue<bool>(out var b) && b;
        var includeUsage = chatRequest["stream_options"]?["include_usage"] is JsonValue iu && iu.TryGetValue<bool>(out var u) && u;

        using var message = new HttpRequestMessage(HttpMethod.Post, UpstreamHttpClients.MessagesUri(upstream.BaseUrl))
        {
            Content = new ByteArrayContent(AnthropicJson.ToUtf8(request)),
        };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var options = providers.Get(upstream.Name);
        if (!string.IsNullOrEmpty(upstream.ApiKey)) message.Headers.TryAddWithoutValidation("x-api-key", upstream.ApiKey);
        message.Headers.TryAddWithoutValidation("anthropic-version", options.Version is { Length: > 0 } v ? v : DefaultAnthropicVersion);

        using var call = new UpstreamCall(context.RequestAborted, TimeSpan.FromSeconds(options.TimeoutSeconds > 0 ? options.TimeoutSeconds : 120));
        HttpResponseMessage response;
        var span = Telemetry.UpstreamSpans.Start(context, upstream, message);
        try
        {
            call.Arm();
            response = Telemetry.UpstreamSpans.Answered(span, await clients.For(upstream.BaseUrl).SendAsync(message, HttpCompletionOption.ResponseHeadersRead, call.Token));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            Telemetry.UpstreamSpans.Failed(span, call.TimedOut);
            if (context.RequestAborted.IsCancellationRequested) return;
            LogSendFailed(logger, upstream.Name, call.TimedOut);
            await WriteErrorAsync(context, call.TimedOut ? 504 : 502, "server_error",
                call.TimedOut ? "The upstream provider did not answer in time." : "The upstream provider could not be reached.", null);
            return;
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                await WriteUpstreamErrorAsync(context, upstream, response, call);
                return;
            }
            if (!stream)
            {
                JsonObject? answer = null;
                try
                {
                    await using var body = await response.Content.ReadAsStreamAsync(call.Token);
                    answer = await JsonNode.ParseAsync(body, cancellationToken: call.Token) as JsonObject;
                }
                catch (JsonException)
                {
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
                {
                    if (context.RequestAborted.IsCancellationRequested) return;
                }
                if (answer is null || answer["content"] is not JsonArray)
                {
                    await WriteErrorAsync(context, 502, "server_error", "The upstream provider returned an invalid response.", null);
                    return;
                }
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(AnthropicJson.ToUtf8(MessagesToChatResponse.Translate(answer, model)), context.RequestAborted);
                return;
            }

            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/event-stream; charset=utf-8";
            context.Response.Headers.CacheControl = "no-cache";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var buffer = new ArrayBufferWriter<byte>(4096);
            var converter = new MessagesEventsToChatChunks(new SseFrameWriter(buffer), model, includeUsage);
            try
            {
                await using var source = await response.Content.ReadAsStreamAsync(call.Token);
                using var reader = new SseReader(source);
                while (!converter.Finished)
                {
                    call.Arm();
                    var evt = await reader.ReadAsync(call.Token);
                    if (evt is null) break;
                    if (evt.Value.Data.Length == 0) continue;
                    JsonObject? data;
                    try
                    {
                        data = JsonNode.Parse(evt.Value.Data) as JsonObject;
                    }
                    catch (JsonException)
                    {
                        data = null;
                    }
                    if (data is null)
                    {
                        converter.Fail("api_error", "The upstream provider sent an invalid stream event.");
                        break;
                    }
                    converter.OnEvent(data);
                    await FlushAsync(context, buffer);
                }
                if (!converter.Finished) converter.Fail("api_error", "The upstream stream ended before the answer was complete.");
                await FlushAsync(context, buffer);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
            {
                if (context.RequestAborted.IsCancellationRequested) return;
                LogSendFailed(logger, upstream.Name, call.TimedOut);
                converter.Fail(call.TimedOut ? "timeout_error" : "api_error",
                    call.TimedOut ? "The upstream provider stopped responding." : "The connection to the upstream provider was lost.");
                try { await FlushAsync(context, buffer); }
                catch (Exception e2) when (e2 is OperationCanceledException or IOException) { }
            }
        }
    }

    private async Task WriteUpstreamErrorAsync(HttpContext context, MessagesUpstream upstream, HttpResponseMessage response, UpstreamCall call)
    {
        var status = (int)response.StatusCode;
        string? upstreamMessage = null;
        try
        {
            var node = JsonNode.Parse(await response.Content.ReadAsStringAsync(call.Token));
            upstreamMessage = (string?)node?["error"]?["message"];
        }
        catch (Exception e) when (e is JsonException or IOException or OperationCanceledException or HttpRequestException or InvalidOperationException)
        {
        }
        LogUpstreamStatus(logger, upstream.Name, status);
        if (response.Headers.RetryAfter is { } retryAfter) context.Response.Headers.RetryAfter = retryAfter.ToString();
        var (code, type, message) = status switch
        {
            429 => (429, "rate_limit_exceeded", "Rate limited by the upstream provider; retry later."),
            529 or 503 => (503, "server_error", "The upstream provider is overloaded; retry later."),
            504 => (504, "server_error", "The upstream provider timed out."),
            401 or 403 or >= 500 => (502, "server_error", $"The upstream provider ({upstream.Name}) failed with HTTP {status}."),
            _ => (status, "invalid_request_error", upstreamMessage ?? $"The upstream provider rejected the request (HTTP {status})."),
        };
        await WriteErrorAsync(context, code, type, message, null);
    }

    private static async Task WriteErrorAsync(HttpContext context, int status, string type, string message, string? code)
    {
        var body = new JsonObject { ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = code } };
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(AnthropicJson.ToUtf8(body), context.RequestAborted);
    }

    private static async Task FlushAsync(HttpContext context, ArrayBufferWriter<byte> buffer)
    {
        if (buffer.WrittenCount == 0) return;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        buffer.ResetWrittenCount();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Anthropic upstream {Upstream} answered a chat completion with HTTP {Status}")]
    private static partial void LogUpstreamStatus(ILogger logger, string upstream, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Anthropic upstream {Upstream} failed for a chat completion (timed out: {TimedOut})")]
    private static partial void LogSendFailed(ILogger logger, string upstream, bool timedOut);
}
