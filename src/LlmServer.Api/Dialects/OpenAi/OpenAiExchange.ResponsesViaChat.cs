using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Ownership;
using LlmServer.Services.Responses;
using LlmServer.Services.Routing;
using LlmServer.Services.Streaming;
using LlmServer.Services.Transport;

namespace LlmServer.Api.Dialects.OpenAi;

internal sealed partial class OpenAiExchange
{
    private static readonly TimeProvider s_clock = TimeProvider.System;

    /// <summary>
    /// /v1/responses for a model whose upstream cannot serve it (anthropic; openai_compatible with ResponsesApi
    /// "translate"): the request becomes a chat completion, sent as a chat completion is (to the upstream's
    /// /v1/chat/completions, or through the Anthropic translator), and the chat answer, restored and counted there,
    /// is turned into the Responses answer by <see cref="ChatAsResponsesBody"/>. With <c>store</c> the gateway keeps
    /// the conversation for previous_response_id and retrieval.
    /// </summary>
    /// <param name="call">The exchange (admitted, masked).</param>
    /// <param name="masked">The request as the upstream may see it (masked).</param>
    /// <param name="asSent">The request as the client sent it (stored conversation prepended), kept when stored.</param>
    /// <param name="modelRoute">Where the model is served.</param>
    /// <param name="scan">The scan of the client's request (stream).</param>
    private async Task ResponsesViaChatAsync(Call call, JsonObject masked, ReadOnlyMemory<byte> asSent, ModelRoute modelRoute, RequestScan scan)
    {
        var ctx = call.Ctx;
        var x = call.X;
        if (IsTrue(masked["background"]))
        {
            await FailAsync(call, ExchangeErrors.InvalidRequest($"Background responses are not available for the model `{x.Model}`; send the request without background.", "background", "unsupported_parameter"));
            return;
        }
        JsonObject chat;
        try
        {
            chat = ResponsesToChatRequest.Translate(masked);
        }
        catch (ResponsesTranslationException e)
        {
            await FailAsync(call, ExchangeErrors.InvalidRequest(e.Message, e.Param));
            return;
        }
        var request = JsonNode.Parse(asSent.Span, documentOptions: Dto.JsonLimits.Document) as JsonObject ?? masked;
        // NOTE: a request without a model went to the default one; the response names it.
        if (request["model"] is not JsonValue) request["model"] = x.Model;
        var store = request["store"] is not JsonValue s || !s.TryGetValue<bool>(out var keep) || keep;
        // NOTE: what comes back is a chat answer; originals are restored in it before it becomes Responses items.
        if (call.Restorer is not null && x.Masking is { } session) call.Restorer = new OpenAiResponseRestorer(session, ExchangeSurface.ChatCompletions);
        call.AnswersViaChat = true;

        var owner = x.Owner;
        Func<JsonObject, Task>? onComplete = store
            ? response => storedResponses.RecordConversationAsync((string)response["id"]!, owner, call.Deployment ?? call.Result?.Deployment ?? modelRoute.At(0), StoredConversation.Of(request, response))
            : null;
        var original = ctx.Response.Body;
        var body = new ChatAsResponsesBody(original, ctx, request, ResponseObjects.NewId(), s_clock.GetUtcNow().ToUnixTimeSeconds(), onComplete);
        ctx.Response.Body = body;
        try
        {
            if (modelRoute.At(0).Kind == UpstreamKinds.Anthropic)
            {
                if (RequestShapes.CheckChat(chat) is { } wrongKind)
                {
                    await FailAsync(call, ExchangeErrors.InvalidRequest(wrongKind, code: "invalid_type"));
                    return;
                }
                // NOTE: the translated request asks for usage itself; it is what response.completed carries.
                var chatScan = scan;
                chatScan.IncludeUsage = true;
                await ViaAnthropicAsync(call, chat, modelRoute, chatScan);
            }
            else
            {
                var bytes = AnthropicJson.ToUtf8(chat);
                var chatScan = RequestScan.Run(bytes);
                var upstreamRequest = new UpstreamRequest(HttpMethod.Post, "chat/completions", new SplicedBody(bytes, chatScan, null),
                    scan.Stream ? "text/event-stream" : "application/json");
                await SendAndRelayAsync(call, upstreamRequest, modelRoute, scan.Stream, dropUsageChunk: false);
            }
            await body.CompleteAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && ctx.RequestAborted.IsCancellationRequested)
        {
            RecordGone(call);
        }
        finally
        {
            ctx.Response.Body = original;
        }
    }

    /// <summary>
    /// A request continuing a response the gateway keeps (answered by translation): its stored conversation goes before
    /// the request's input. False when the response is not one the gateway keeps (the upstream holds it).
    /// </summary>
    private static bool TryContinueStored(OwnedResponse owned, bool translates, ref ReadOnlyMemory<byte> body)
    {
        if (StoredConversation.Parse(owned.Conversation) is not { } conversation) return false;
        if (JsonNode.Parse(body.Span, documentOptions: Dto.JsonLimits.Document) is not JsonObject request) return false;
        var continued = conversation.Continue(request);
        // NOTE: an upstream that serves /v1/responses itself never saw this id; it gets the whole conversation instead.
        if (!translates) continued.Remove("previous_response_id");
        body = AnthropicJson.ToUtf8(continued);
        return true;
    }

    /// <summary>GET /v1/responses/{id} of a response the gateway keeps: the response object as its client received it.</summary>
    private static async Task<bool> TryWriteStoredAsync(HttpContext ctx, OwnedResponse owned)
    {
        if (StoredConversation.Parse(owned.Conversation) is not { } conversation) return false;
        var bytes = AnthropicJson.ToUtf8(conversation.Response);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = bytes.Length;
        await ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted);
        return true;
    }

    private static bool IsTrue(JsonNode? node) => node is JsonValue v && v.TryGetValue<bool>(out var b) && b;
}

/// <summary>
/// Sits in place of the response body while a chat answer is relayed: an error passes as it is (OpenAI's error body is
/// the Responses API's too), SSE chat chunks become Responses events as they come (flushed with them), a plain
/// chat.completion is held until complete and then answered as a response object. Before the client sees the end
/// (response.completed, or the body), <c>onComplete</c> runs, so a retrieval or continuation right after finds it.
/// </summary>
internal sealed class ChatAsResponsesBody(Stream inner, HttpContext ctx, JsonObject request, string id, long createdAt, Func<JsonObject, Task>? onComplete) : WriteOnlyStream
{
    private readonly MemoryStream _pending = new();
    private readonly ArrayBufferWriter<byte> _events = new(4096);
    private ChatChunksToResponsesEvents? _converter;
    private Mode _mode;

    private enum Mode { Undecided, PassThrough, Stream, Plain }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_mode == Mode.Undecided) _mode = Decide();
        if (_mode == Mode.PassThrough)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            return;
        }
        _pending.Write(buffer.Span);
        if (_mode == Mode.Stream) await DrainEventsAsync(cancellationToken);
    }

    // NOTE: nothing reaches the client before the first write decides what the answer is (its headers may still change).
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _mode is Mode.Stream or Mode.PassThrough ? inner.FlushAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>After the relay returned: the plain answer as a response object, or the end of the stream.</summary>
    public async Task CompleteAsync()
    {
        switch (_mode)
        {
            case Mode.Stream:
                await DrainEventsAsync(ctx.RequestAborted);
                if (_converter is { Finished: false } converter)
                {
                    converter.Fail("upstream_disconnected", "The upstream ended the stream before the answer was complete.");
                    await WriteEventsAsync(ctx.RequestAborted);
                }
                break;
            case Mode.Plain:
                JsonObject? completion = null;
                try
                {
                    completion = JsonNode.Parse(_pending.GetBuffer().AsSpan(0, (int)_pending.Length)) as JsonObject;
                }
                catch (JsonException)
                {
                }
                byte[] answer;
                if (completion is null)
                {
                    ctx.Response.StatusCode = 502;
                    answer = DialectErrorWriter.Body(Dialect.OpenAi, ExchangeErrors.UpstreamInvalidResponse);
                }
                else
                {
                    var response = ChatToResponsesResponse.Translate(completion, request, id, createdAt);
                    if (onComplete is not null) await onComplete(response);
                    answer = AnthropicJson.ToUtf8(response);
                }
                ctx.Response.ContentType = "application/json";
                ctx.Response.ContentLength = answer.Length;
                await inner.WriteAsync(answer, ctx.RequestAborted);
                break;
        }
    }

    private Mode Decide()
    {
        if (ctx.Response.StatusCode != 200) return Mode.PassThrough;
        if (ctx.Response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) != true) return Mode.Plain;
        _converter = new ChatChunksToResponsesEvents(new SseFrameWriter(_events), request, id, createdAt);
        return Mode.Stream;
    }

    private async Task DrainEventsAsync(CancellationToken cancellationToken)
    {
        var converter = _converter!;
        while (true)
        {
            var data = _pending.GetBuffer().AsMemory(0, (int)_pending.Length);
            var end = data.Span.IndexOf("\n\n"u8);
            if (end < 0) break;
            var payload = Payload(data.Span[..end]);
            if (!converter.Finished && payload.Length > 0)
            {
                if (payload.SequenceEqual("[DONE]"u8))
                {
                    var response = converter.Finish();
                    await WriteEventsAsync(cancellationToken);
                    if (onComplete is not null) await onComplete(response);
                    converter.WriteCompleted(response);
                }
                else
                {
                    JsonObject? chunk = null;
                    try
                    {
                        chunk = JsonNode.Parse(payload) as JsonObject;
                    }
                    catch (JsonException)
                    {
                    }
                    if (chunk is null) converter.Fail("upstream_invalid_response", "The upstream sent an invalid stream event.");
                    else converter.OnChunk(chunk);
                }
            }
            var rest = data[(end + 2)..].ToArray();
            _pending.SetLength(0);
            _pending.Write(rest);
        }
        await WriteEventsAsync(cancellationToken);
    }

    private async Task WriteEventsAsync(CancellationToken cancellationToken)
    {
        if (_events.WrittenCount == 0) return;
        await inner.WriteAsync(_events.WrittenMemory, cancellationToken);
        await inner.FlushAsync(cancellationToken);
        _events.ResetWrittenCount();
    }

    /// <summary>The data of one SSE event (one data: line; chat chunks never span lines).</summary>
    private static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> ev)
    {
        var d = ev.IndexOf("data:"u8);
        if (d < 0) return default;
        var p = ev[(d + 5)..];
        if (p.Length > 0 && p[0] == ' ') p = p[1..];
        var nl = p.IndexOf((byte)'\n');
        if (nl >= 0) p = p[..nl];
        return p.TrimEnd((byte)'\r');
    }
}
