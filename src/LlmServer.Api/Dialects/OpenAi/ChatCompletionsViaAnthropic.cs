using LlmServer.Api.Pipeline;
using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Api.Dialects;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Exchange;
using LlmServer.Services.Routing;
using LlmServer.Services.Streaming;
using LlmServer.Services.Transport;
using Microsoft.Extensions.Options;

namespace LlmServer.Api.Dialects.OpenAi;

/// <summary>How a /v1/chat/completions request served by an anthropic upstream ended.</summary>
/// <param name="Error">The catalogue entry it ended with (already written to the client), or null for an answer.</param>
/// <param name="Deployment">The deployment that answered (or was last tried).</param>
/// <param name="ClientGone">The client went away.</param>
public sealed record ViaAnthropicOutcome(ExchangeError? Error, Deployment? Deployment, bool ClientGone);

/// <summary>
/// What the chat route does with a translated answer on its way to the client (restoring masked values, reading
/// usage, keeping the session turn). The translator hands over each chunk as it makes it; nothing is re-read
/// from the response body.
/// </summary>
public interface IChatAnswerRelay
{
    /// <summary>A plain chat.completion; returns the bytes the client gets.</summary>
    ValueTask<ReadOnlyMemory<byte>> CompletionAsync(ReadOnlyMemory<byte> completion, CancellationToken cancellationToken);

    /// <summary>One chunk event (<paramref name="frame"/> is <c>data: {json}\n\n</c>, <paramref name="data"/> its JSON); writes what the client gets (nothing drops it).</summary>
    ValueTask ChunkAsync(ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte> data, IBufferWriter<byte> output, CancellationToken cancellationToken);

    /// <summary>The stream's last event, <c>data: [DONE]</c>; writes what the client gets (what was held back, then the event).</summary>
    ValueTask DoneAsync(ReadOnlyMemory<byte> frame, IBufferWriter<byte> output, CancellationToken cancellationToken);
}

/// <summary>
/// The reverse direction: a /v1/chat/completions request whose model anthropic upstreams serve. The chat request
/// is translated to Anthropic Messages per deployment and sent through the one transport (every deployment:
/// retries, breakers, failover, per-phase timeouts); the message (or its events) comes back as a chat.completion
/// (or chunks ending with <c>data: [DONE]</c>). Errors are catalogue entries in OpenAI's dialect.
/// </summary>
public sealed partial class ChatCompletionsViaAnthropic(
    IUpstreamForwarder forwarder,
    IOptionsMonitor<ProviderEndpointOptions> providers,
    ILogger<ChatCompletionsViaAnthropic> logger)
{
    /// <summary>Serves the request; <paramref name="chatRequest"/> is the parsed, validated (and masked) OpenAI body.</summary>
    public async Task<ViaAnthropicOutcome> HandleAsync(HttpContext context, JsonObject chatRequest, ModelRoute route, IChatAnswerRelay? relay = null)
    {
        var body = new TranslatedBody(d => AnthropicJson.ToUtf8(ChatToMessagesRequest.Translate(chatRequest, d.UpstreamModel)));
        if (body.Check(route.At(0)) is { } invalid) return await FailAsync(context, ExchangeErrors.InvalidRequest(invalid), null);
        var model = chatRequest["model"] is JsonValue mv && mv.TryGetValue<string>(out var m) ? m : route.Model.Name;
        var stream = chatRequest["stream"] is JsonValue s && s.TryGetValue<bool>(out var b) && b;
        var includeUsage = chatRequest["stream_options"]?["include_usage"] is JsonValue iu && iu.TryGetValue<bool>(out var u) && u;
        var version = providers.Get(ProviderEndpointOptions.Anthropic).Version;
        var request = new UpstreamRequest(HttpMethod.Post, AnthropicWire.Messages, body, stream ? "text/event-stream" : "application/json")
        {
            Headers = string.IsNullOrEmpty(version) ? null : [new("anthropic-version", version)],
        };
        using var result = await forwarder.SendAsync(request, route, context.RequestAborted);
        if (result.Outcome == UpstreamOutcome.ClientAborted) return new(null, result.Deployment, true);
        if (UpstreamFailures.ErrorOf(result, model) is { } failure) return await FailAsync(context, failure, result.Deployment);
        if (result.Outcome == UpstreamOutcome.ClientError)
        {
            LogUpstreamStatus(logger, result.Deployment!.Upstream.Name, result.UpstreamStatus);
            var (refusal, gone) = await ReadWholeAsync(result);
            if (gone) return new(null, result.Deployment, true);
            return await FailAsync(context, ExchangeErrors.UpstreamRejected(result.UpstreamStatus, refusal is null ? null : UpstreamRefusal.MessageOf(refusal)), result.Deployment);
        }
        return stream
            ? await RelayStreamAsync(context, result, model, includeUsage, relay)
            : await RelayPlainAsync(context, result, model, relay);
    }

    private static async Task<ViaAnthropicOutcome> FailAsync(HttpContext context, ExchangeError error, Deployment? deployment)
    {
        await DialectErrorWriter.WriteAsync(context, Dialect.OpenAi, error);
        return new(error, deployment, false);
    }

    private static async Task<(byte[]? Body, bool ClientGone)> ReadWholeAsync(UpstreamResult result)
    {
        try
        {
            result.ArmRead();
            return (await result.Response!.Content.ReadAsByteArrayAsync(result.Token), false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            return (null, result.CancelledByClient);
        }
    }

    private async Task<ViaAnthropicOutcome> RelayPlainAsync(HttpContext context, UpstreamResult result, string model, IChatAnswerRelay? relay)
    {
        var (bytes, gone) = await ReadWholeAsync(result);
        if (gone) return new(null, result.Deployment, true);
        if (bytes is null) return await FailAsync(context, ExchangeErrors.UpstreamDisconnected, result.Deployment);
        JsonObject? answer;
        try
        {
            answer = JsonNode.Parse(bytes) as JsonObject;
        }
        catch (JsonException)
        {
            answer = null;
        }
        if (answer is null || answer["content"] is not JsonArray)
        {
            LogBadUpstreamBody(logger, result.Deployment!.Upstream.Name);
            return await FailAsync(context, ExchangeErrors.UpstreamInvalidResponse, result.Deployment);
        }
        ReadOnlyMemory<byte> completion = AnthropicJson.ToUtf8(MessagesToChatResponse.Translate(answer, model));
        if (relay is not null) completion = await relay.CompletionAsync(completion, context.RequestAborted);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = completion.Length;
        await context.Response.Body.WriteAsync(completion, context.RequestAborted);
        return new(null, result.Deployment, false);
    }

    /// <summary>Each Anthropic event is translated as it arrives; the chunks it gives are sent before the next upstream wait.</summary>
    private async Task<ViaAnthropicOutcome> RelayStreamAsync(HttpContext context, UpstreamResult result, string model, bool includeUsage, IChatAnswerRelay? relay)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        SseRelay.Start(context);
        var buffer = new ArrayBufferWriter<byte>(4096);
        var converter = new MessagesEventsToChatChunks(new SseFrameWriter(buffer), model, includeUsage);
        var relayed = relay is null ? null : new ArrayBufferWriter<byte>(4096);
        var client = new SseRelayWriter(context);
        Task EmitAsync()
        {
            if (relay is not null) return EmitThroughAsync(context, buffer, relay, relayed!, client);
            client.Write(buffer);
            return Task.CompletedTask;
        }
        ExchangeError? error = null;
        try
        {
            await using var source = await result.Response!.Content.ReadAsStreamAsync(result.Token);
            using var reader = new SseReader(source);
            while (!converter.Finished)
            {
                result.ArmRead();
                if (!await client.ReadAsync(reader, result.Token)) break;
                if (reader.Data.IsEmpty) continue;
                JsonObject? data;
                try
                {
                    data = JsonNode.Parse(reader.Data.Span) as JsonObject;
                }
                catch (JsonException)
                {
                    data = null;
                }
                if (data is null)
                {
                    error = ExchangeErrors.UpstreamInvalidResponse;
                    break;
                }
                if (reader.IsEvent("error"u8))
                {
                    error = ExchangeErrors.UpstreamStreamFailed;
                    break;
                }
                converter.OnEvent(data);
                await EmitAsync();
            }
            if (client.ClientGone) return new(null, result.Deployment, true);
            if (error is null && !converter.Finished) error = ExchangeErrors.UpstreamDisconnected;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException or InvalidDataException)
        {
            if (UpstreamFailures.BrokenBody(result, e) is not { } broken || context.RequestAborted.IsCancellationRequested)
            {
                return new(null, result.Deployment, true);
            }
            error = broken;
        }
        await EmitAsync();
        if (!await client.FlushAsync()) return new(null, result.Deployment, true);
        if (error is not null)
        {
            LogStreamBroken(logger, result.Deployment!.Upstream.Name, error.Code);
            await DialectErrorWriter.WriteAsync(context, Dialect.OpenAi, error);
            return new(error, result.Deployment, false);
        }
        return new(null, result.Deployment, false);
    }

    /// <summary>Hands each chunk the translator wrote (its frames are <c>data: {json}\n\n</c>, JSON on one line) to the relay, then writes what it gave.</summary>
    private static async Task EmitThroughAsync(HttpContext context, ArrayBufferWriter<byte> frames, IChatAnswerRelay relay, ArrayBufferWriter<byte> output, SseRelayWriter client)
    {
        var written = frames.WrittenMemory;
        while (written.Span.IndexOf("\n\n"u8) is var end and >= 0)
        {
            var frame = written[..(end + 2)];
            written = written[(end + 2)..];
            var data = frame.Span.StartsWith("data: "u8) ? frame[6..end] : ReadOnlyMemory<byte>.Empty;
            if (data.Span.SequenceEqual("[DONE]"u8)) await relay.DoneAsync(frame, output, context.RequestAborted);
            else await relay.ChunkAsync(frame, data, output, context.RequestAborted);
        }
        frames.ResetWrittenCount();
        client.Write(output);
    }


    [LoggerMessage(Level = LogLevel.Warning, Message = "Anthropic upstream {Upstream} answered a chat completion with HTTP {Status}")]
    private static partial void LogUpstreamStatus(ILogger logger, string upstream, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Anthropic upstream {Upstream} stream broke during a chat completion ({Code})")]
    private static partial void LogStreamBroken(ILogger logger, string upstream, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Anthropic upstream {Upstream} returned a body that is not a message")]
    private static partial void LogBadUpstreamBody(ILogger logger, string upstream);
}
