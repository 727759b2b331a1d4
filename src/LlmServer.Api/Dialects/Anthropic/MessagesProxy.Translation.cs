using LlmServer.Api.Pipeline;
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using LlmServer.Services.Pricing;
using LlmServer.Services.Routing;
using LlmServer.Services.Streaming;
using LlmServer.Services.Tokens;
using LlmServer.Services.Transport;

namespace LlmServer.Api.Dialects.Anthropic;

public sealed partial class MessagesProxy
{
    /// <summary>
    /// Translation to chat.completions for the model's OpenAI-style deployments (the request shaped per deployment:
    /// its model name, its token field), and the answer back to an Anthropic message or its events. An upstream 4xx
    /// cannot be relayed as is here (it is in OpenAI's shape): it becomes upstream_rejected with the upstream's message.
    /// </summary>
    private async Task TranslateAsync(HttpContext context, ExchangeState x, ModelRoute route, MessagesRequest request, MaskingSession? restore,
        MessagesOutcome outcome)
    {
        ContextDecision fit = default;
        var first = true;
        var contextLength = route.Model.MaxModelLen;
        var body = new TranslatedBody(d =>
        {
            var options = MessagesTranslation.OptionsFor(d, contextLength);
            if (ContextLimits.Applies(contextLength, (long?)request.Body["max_tokens"]))
            {
                options = options with { PromptTokens = tokens.CountRequest(d.UpstreamModel, AnthropicJson.ToUtf8(request.Body)) };
            }
            var bytes = AnthropicJson.ToUtf8(MessagesToChatRequest.Translate(request.Body, options, out var decision));
            if (first) fit = decision;
            first = false;
            return bytes;
        });
        if (body.Check(route.At(0)) is { } invalid)
        {
            outcome.Error = ExchangeErrors.InvalidRequest(invalid);
            return;
        }
        if (fit.Verdict == ContextVerdict.Clamped) context.Response.Headers[ContextDecision.ClampedHeader] = fit.ClampedHeaderValue;
        var upstreamRequest = new UpstreamRequest(HttpMethod.Post, "chat/completions", body, request.Stream ? "text/event-stream" : "application/json");
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
        if (result.Outcome == UpstreamOutcome.ClientError)
        {
            LogUpstreamStatus(logger, result.Deployment!.Upstream.Name, result.UpstreamStatus);
            var bytes = await ReadWholeAsync(result, outcome);
            if (bytes is not null) outcome.Error = ExchangeErrors.UpstreamRejected(result.UpstreamStatus, UpstreamRefusal.MessageOf(bytes));
            return;
        }
        if (request.Stream) await TranslateStreamAsync(context, x, result, request, restore, outcome);
        else await TranslatePlainAsync(context, x, result, request, restore, outcome);
    }

    private async Task TranslatePlainAsync(HttpContext context, ExchangeState x, UpstreamResult result, MessagesRequest request, MaskingSession? restore,
        MessagesOutcome outcome)
    {
        if (await ReadWholeAsync(result, outcome) is not { } bytes) return;
        JsonObject? completion;
        try
        {
            completion = JsonNode.Parse(bytes) as JsonObject;
        }
        catch (JsonException)
        {
            completion = null;
        }
        if (completion is null || completion["choices"] is not JsonArray)
        {
            LogBadUpstreamBody(logger, result.Deployment!.Upstream.Name);
            outcome.Error = ExchangeErrors.UpstreamInvalidResponse;
            return;
        }
        x.Usage = UsageJson.FromOpenAi(completion["usage"]);
        var message = ChatToMessagesResponse.Translate(completion, request.Model, request.StopSequences);
        if (restore is not null) await AnthropicResponseRestorer.RestoreMessageAsync(message, restore, context.RequestAborted);
        var answer = AnthropicJson.ToUtf8(message);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = answer.Length;
        await context.Response.Body.WriteAsync(answer, context.RequestAborted);
    }

    /// <summary>
    /// Each upstream chunk is read as it arrives and handed to the translator, whose Anthropic events are written
    /// (restored when values were masked) and sent before the next upstream wait. A broken or unfinished stream ends
    /// with the error event.
    /// </summary>
    private async Task TranslateStreamAsync(HttpContext context, ExchangeState x, UpstreamResult result, MessagesRequest request, MaskingSession? restore,
        MessagesOutcome outcome)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        SseRelay.Start(context);
        var events = new ArrayBufferWriter<byte>(4096);
        var converter = new ChatChunksToMessagesStream(new SseFrameWriter(events), request.Model, request.StopSequences);
        var restorer = restore is null ? null : new AnthropicSseRestorer(restore);
        var restored = restore is null ? null : new ArrayBufferWriter<byte>(4096);
        var client = new SseRelayWriter(context);
        async Task EmitAsync(bool complete)
        {
            if (restorer is null)
            {
                client.Write(events);
                return;
            }
            await restorer.WriteAsync(events.WrittenMemory, restored!, context.RequestAborted);
            events.ResetWrittenCount();
            if (complete) await restorer.CompleteAsync(restored!, context.RequestAborted);
            client.Write(restored!);
        }
        var done = false;
        try
        {
            await using var source = await result.Response!.Content.ReadAsStreamAsync(result.Token);
            using var reader = new SseReader(source);
            while (!done)
            {
                result.ArmRead();
                if (!await client.ReadAsync(reader, result.Token)) break;
                var data = reader.Data.Span;
                if (data.SequenceEqual("[DONE]"u8))
                {
                    done = true;
                    break;
                }
                if (data.IsEmpty) continue;
                if (ParseChunk(data) is not { } chunk)
                {
                    outcome.Error = ExchangeErrors.UpstreamInvalidResponse;
                    break;
                }
                if (chunk["error"] is JsonObject)
                {
                    outcome.Error = ExchangeErrors.UpstreamStreamFailed;
                    break;
                }
                converter.OnChunk(chunk);
                await EmitAsync(complete: false);
            }
            if (client.ClientGone)
            {
                outcome.ClientGone = true;
                return;
            }
            if (outcome.Error is null && !converter.Finished)
            {
                if (done || converter.SawFinish) converter.Complete();
                else outcome.Error = ExchangeErrors.UpstreamDisconnected;
            }
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
            x.Usage = UsageJson.FromOpenAi(converter.UpstreamUsage);
        }
        if (outcome.Error is { } failed)
        {
            LogStreamBroken(logger, result.Deployment!.Upstream.Name, failed.Code);
            // NOTE: the translator ends its own stream (it knows which blocks are open); the error is its last event.
            converter.Fail(failed.AnthropicType, failed.Message);
        }
        await EmitAsync(complete: true);
        if (!await client.FlushAsync())
        {
            outcome.ClientGone = true;
            return;
        }
        outcome.ErrorWritten = outcome.Error is not null;
    }

    private static JsonObject? ParseChunk(ReadOnlySpan<byte> data)
    {
        try
        {
            return JsonNode.Parse(data) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

}
