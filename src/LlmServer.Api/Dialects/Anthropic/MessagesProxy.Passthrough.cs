using LlmServer.Api.Pipeline;
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using LlmServer.Services.Routing;
using LlmServer.Services.Streaming;
using LlmServer.Services.Transport;

namespace LlmServer.Api.Dialects.Anthropic;

public sealed partial class MessagesProxy
{
    private static readonly string[] s_passHeaders = ["request-id", "retry-after", "anthropic-organization-id"];

    /// <summary>
    /// Passthrough to the model's anthropic deployments: the body goes as the client sent it (masked, the model
    /// renamed to the deployment's), the answer comes back unchanged but for restored values and the public model
    /// name. An upstream 4xx is relayed as is: it is already in Anthropic's shape and describes the caller's request.
    /// </summary>
    private async Task PassThroughAsync(HttpContext context, ExchangeState x, ModelRoute route, MessagesRequest request, bool masked,
        MaskingSession? restore, MessagesOutcome outcome)
    {
        var upstreamRequest = new UpstreamRequest(HttpMethod.Post, AnthropicWire.Messages, new AnthropicBody(request.Body, request.Raw, request.Model, masked),
            request.Stream ? "text/event-stream" : "application/json") { Headers = ClientHeaders(context) };
        using var result = await forwarder.SendAsync(upstreamRequest, route, context.RequestAborted);
        x.Upstream = result.Deployment?.Upstream.Name;
        if (result.Outcome == UpstreamOutcome.ClientAborted)
        {
            outcome.ClientGone = true;
            return;
        }
        if (UpstreamFailures.ErrorOf(result, request.Model) is { } failure)
        {
            outcome.Error = failure;
            return;
        }
        var response = result.Response!;
        context.Response.StatusCode = result.UpstreamStatus;
        foreach (var h in s_passHeaders)
        {
            if (response.Headers.TryGetValues(h, out var values)) context.Response.Headers[h] = values.ToArray();
        }
        context.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? (request.Stream ? "text/event-stream" : "application/json");
        if (result.Outcome == UpstreamOutcome.ClientError)
        {
            LogUpstreamStatus(logger, result.Deployment!.Upstream.Name, result.UpstreamStatus);
            outcome.RelayedCode = ExchangeErrors.UpstreamRejected(result.UpstreamStatus, null).Code;
            await RelayWholeAsync(context, result, outcome);
            return;
        }
        // NOTE: a deployment that knows the model by another name answers with that name; the client sees the one it asked for.
        var publicModel = result.Deployment!.UpstreamModel == request.Model ? null : request.Model;
        if (request.Stream) await RelayStreamAsync(context, x, result, restore ?? (publicModel is null ? null : x.Masking), publicModel, outcome);
        else await RelayPlainAsync(context, x, result, restore, publicModel, outcome);
    }

    /// <summary>The client's anthropic-version (else the configured one) and anthropic-beta, which the upstream must see unchanged.</summary>
    private List<KeyValuePair<string, string>> ClientHeaders(HttpContext context)
    {
        var headers = new List<KeyValuePair<string, string>>(2);
        var version = context.Request.Headers["anthropic-version"].ToString();
        if (version.Length == 0) version = providers.Get(ProviderEndpointOptions.Anthropic).Version ?? "";
        if (version.Length > 0) headers.Add(new("anthropic-version", version));
        var beta = context.Request.Headers["anthropic-beta"].ToString();
        if (beta.Length > 0) headers.Add(new("anthropic-beta", beta));
        return headers;
    }

    /// <summary>Reads the whole answer (bounded by the body timers); null when it broke, with the outcome set.</summary>
    private static async Task<byte[]?> ReadWholeAsync(UpstreamResult result, MessagesOutcome outcome)
    {
        try
        {
            result.ArmRead();
            return await result.Response!.Content.ReadAsByteArrayAsync(result.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            if (UpstreamFailures.BrokenBody(result, e) is { } error) outcome.Error = error;
            else outcome.ClientGone = true;
            return null;
        }
    }

    private static async Task RelayWholeAsync(HttpContext context, UpstreamResult result, MessagesOutcome outcome)
    {
        if (await ReadWholeAsync(result, outcome) is not { } bytes) return;
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    /// <summary>
    /// A plain answer, read whole before anything reaches the client: a 200 whose body is not complete JSON
    /// (garbage, or cut before its end) is a 502, never relayed as success.
    /// </summary>
    private async Task RelayPlainAsync(HttpContext context, ExchangeState x, UpstreamResult result, MaskingSession? restore, string? publicModel, MessagesOutcome outcome)
    {
        if (await ReadWholeAsync(result, outcome) is not { } bytes) return;
        if (!IsCompleteJson(bytes))
        {
            LogBadUpstreamBody(logger, result.Deployment!.Upstream.Name);
            outcome.Error = ExchangeErrors.UpstreamInvalidResponse;
            return;
        }
        var scanner = new AnthropicUsageScanner(false);
        scanner.Feed(bytes);
        scanner.Complete();
        x.Usage = scanner.Usage;
        if (restore is not null || publicModel is not null)
        {
            var message = JsonNode.Parse(bytes) as JsonObject;
            if (message is not null)
            {
                if (restore is not null) await AnthropicResponseRestorer.RestoreMessageAsync(message, restore, context.RequestAborted);
                if (publicModel is not null && message["model"] is not null) message["model"] = publicModel;
                bytes = AnthropicJson.ToUtf8(message);
            }
        }
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    /// <summary>
    /// A streamed answer, relayed event by event as it arrives: usage read on the way, masked
    /// values restored and the model renamed when needed. A stream that ends without message_stop, breaks or stalls
    /// ends with Anthropic's error event.
    /// </summary>
    private async Task RelayStreamAsync(HttpContext context, ExchangeState x, UpstreamResult result, MaskingSession? rewrite, string? publicModel, MessagesOutcome outcome)
    {
        SseRelay.Start(context);
        var scanner = new AnthropicUsageScanner(true);
        var restorer = rewrite is null ? null : new AnthropicSseRestorer(rewrite, publicModel);
        var output = restorer is null ? null : new ArrayBufferWriter<byte>(16 * 1024);
        var client = new SseRelayWriter(context);
        var stopped = false;
        try
        {
            await using var source = await result.Response!.Content.ReadAsStreamAsync(result.Token);
            using var reader = new SseReader(source);
            while (true)
            {
                result.ArmRead();
                if (!await client.ReadAsync(reader, result.Token)) break;
                var frame = reader.Raw;
                scanner.Feed(frame.Span);
                if (reader.IsEvent("message_stop"u8)) stopped = true;
                else if (reader.IsEvent("error"u8))
                {
                    outcome.Error = ExchangeErrors.UpstreamStreamFailed;
                    outcome.ErrorWritten = true;
                }
                if (restorer is null)
                {
                    client.Write(frame.Span);
                }
                else
                {
                    await restorer.WriteAsync(frame, output!, context.RequestAborted);
                    client.Write(output!);
                }
            }
            if (restorer is not null && !client.ClientGone)
            {
                await restorer.CompleteAsync(output!, context.RequestAborted);
                client.Write(output!);
            }
            if (client.ClientGone || !await client.FlushAsync())
            {
                outcome.ClientGone = true;
                return;
            }
            // NOTE: an upstream error event already ended the stream in Anthropic's words; it is relayed, not replaced.
            if (!stopped && outcome.Error is null) outcome.Error = ExchangeErrors.UpstreamDisconnected;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException or InvalidDataException)
        {
            if (UpstreamFailures.BrokenBody(result, e) is not { } error || context.RequestAborted.IsCancellationRequested)
            {
                outcome.ClientGone = true;
                return;
            }
            outcome.Error = error;
        }
        finally
        {
            scanner.Complete();
            x.Usage = scanner.Usage;
        }
        if (outcome.Error is { } broken) LogStreamBroken(logger, result.Deployment!.Upstream.Name, broken.Code);
    }

    private async Task<ExchangeError?> CountUpstreamAsync(HttpContext context, ModelRoute route, MessagesRequest request, bool masked)
    {
        var upstreamRequest = new UpstreamRequest(HttpMethod.Post, AnthropicWire.CountTokens, new AnthropicBody(request.Body, request.Raw, request.Model, masked), "application/json")
        {
            Headers = ClientHeaders(context),
        };
        using var result = await forwarder.SendAsync(upstreamRequest, route, context.RequestAborted);
        if (result.Outcome == UpstreamOutcome.ClientAborted) return null;
        if (UpstreamFailures.ErrorOf(result, request.Model) is { } failure) return failure;
        context.Response.StatusCode = result.UpstreamStatus;
        context.Response.ContentType = result.Response!.Content.Headers.ContentType?.ToString() ?? "application/json";
        var outcome = new MessagesOutcome();
        await RelayWholeAsync(context, result, outcome);
        return outcome.Error;
    }

    private static bool IsCompleteJson(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            reader.Skip();
            while (reader.Read()) { }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// The Anthropic body for one deployment: the client's bytes when nothing changed, else the (masked) body with
    /// the deployment's model name. Serialized once per upstream model name.
    /// </summary>
    private sealed class AnthropicBody(JsonObject body, byte[] raw, string model, bool masked) : UpstreamBody
    {
        private string? _model;
        private byte[]? _bytes;

        public override HttpContent Create(Deployment deployment)
        {
            byte[] bytes;
            if (!masked && deployment.UpstreamModel == model) bytes = raw;
            else if (_model == deployment.UpstreamModel) bytes = _bytes!;
            else
            {
                body["model"] = deployment.UpstreamModel;
                bytes = _bytes = AnthropicJson.ToUtf8(body);
                _model = deployment.UpstreamModel;
            }
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            return content;
        }
    }
}
