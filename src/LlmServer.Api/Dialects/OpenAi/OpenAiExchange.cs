using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Api.Pipeline;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using LlmServer.Services.Ownership;
using LlmServer.Services.Routing;
using LlmServer.Services.Tokens;
using LlmServer.Services.Transport;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace LlmServer.Api.Dialects.OpenAi;

/// <summary>
/// The OpenAI-wire adapter (/v1/chat/completions, /v1/completions, /v1/responses, /v1/embeddings): reads the body
/// once into a pooled buffer and finds model/stream with one reader pass, then runs the exchange steps in order —
/// check, admit, mask, send through the one transport (or the Anthropic translator), relay, record, settle.
/// Unknown fields pass through byte for byte; only the model name and include_usage are spliced in.
/// </summary>
internal sealed partial class OpenAiExchange(
    IModelRouter router,
    IUpstreamForwarder forwarder,
    ExchangeSteps steps,
    ITokenCounter tokens,
    IMaskingService masking,
    ChatCompletionsViaAnthropic viaAnthropic,
    SessionMemory sessions,
    StoredResponses storedResponses,
    IOptions<GatewayOptions> options,
    ILogger<OpenAiExchange> logger)
{
    private static readonly string[] s_paths = ["", "chat/completions", "completions", "responses", "embeddings"];
    private static readonly JsonSerializerOptions s_maskedJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One POST on an OpenAI-wire route.</summary>
    public async Task ForwardAsync(HttpContext ctx, ExchangeSurface surface)
    {
        var feature = ctx.Features.Get<GatewayRequestFeature>() ?? new GatewayRequestFeature(Stopwatch.GetTimestamp());
        var caller = feature.Caller;
        var x = new ExchangeState(surface, caller.VirtualKey, caller.LedgerKeyId, feature.Start) { Overhead = () => feature.OverheadMs };
        var call = new Call(ctx, feature, x);
        var max = options.Value.MaxRequestBodyBytes;
        var (buffer, length) = await ReadBodyAsync(ctx.Request, max, ctx.RequestAborted);
        try
        {
            if (length > max)
            {
                await FailAsync(call, ExchangeErrors.PayloadTooLarge(max));
                return;
            }
            ReadOnlyMemory<byte> body = buffer.AsMemory(0, length);
            if (ExchangeSteps.CheckSessionId(ctx.Request.Headers[SessionMemory.Header], SessionMemory.Header, out var sessionId) is { } badSession)
            {
                await FailAsync(call, badSession);
                return;
            }
            x.SessionId = sessionId;
            // NOTE: the client's body is checked before anything (session history included) reads values out of it.
            var scan = RequestScan.Run(body.Span);
            x.Model = scan.Model;
            if (scan.Error is not null)
            {
                await FailAsync(call, ExchangeErrors.InvalidRequest(scan.Error, scan.ErrorParam));
                return;
            }
            if (surface == ExchangeSurface.ChatCompletions && sessionId is not null)
            {
                // NOTE: history holds restored text; it is masked again below with the rest of the body.
                var (withHistory, pending) = await sessions.PrepareAsync(x.Owner, sessionId, body, ctx.RequestAborted);
                if (withHistory is not null)
                {
                    body = withHistory;
                    scan = RequestScan.Run(body.Span);
                }
                call.Turn = pending;
            }
            if (router.Upstreams.Count == 0)
            {
                // NOTE: a server started with no configuration says what to configure, not "model does not exist".
                await FailAsync(call, ExchangeErrors.NoUpstreamConfigured);
                return;
            }
            if (!router.TryResolve(scan.Model, out var modelRoute))
            {
                x.Model = string.IsNullOrEmpty(scan.Model) ? router.DefaultModel : scan.Model;
                await FailAsync(call, ExchangeErrors.ModelNotFound(x.Model));
                return;
            }
            x.Model = modelRoute.Model.Name;
            x.Stream = scan.Stream;
            var translatesResponses = surface == ExchangeSurface.Responses && modelRoute.At(0).Upstream.TranslatesResponses;
            if (surface == ExchangeSurface.Responses)
            {
                var (stateError, continued) = await CheckPreviousResponseAsync(call, body, translatesResponses);
                if (stateError is not null)
                {
                    await FailAsync(call, stateError);
                    return;
                }
                if (continued is { } withConversation)
                {
                    body = withConversation;
                    scan = RequestScan.Run(body.Span);
                }
            }
            if (await steps.AdmitAsync(x, tokens.For(x.VirtualKey, modelRoute.Model.Root, body.Span), scan.MaxTokens, ctx.RequestAborted) is { } refused)
            {
                await FailAsync(call, refused);
                return;
            }
            try
            {
                var asSent = body;
                var (masked, parsed, maskError) = await MaskAsync(call, body);
                if (maskError is not null)
                {
                    await FailAsync(call, maskError);
                    return;
                }
                if (!masked.Equals(body))
                {
                    body = masked;
                    scan = RequestScan.Run(body.Span);
                }
                if (translatesResponses)
                {
                    await ResponsesViaChatAsync(call, parsed ?? (JsonObject)JsonNode.Parse(body.Span, documentOptions: Dto.JsonLimits.Document)!, asSent, modelRoute, scan);
                }
                else if (surface == ExchangeSurface.ChatCompletions && modelRoute.At(0).Kind == UpstreamKinds.Anthropic)
                {
                    parsed ??= JsonNode.Parse(body.Span, documentOptions: Dto.JsonLimits.Document) as JsonObject;
                    if (RequestShapes.CheckChat(parsed!) is { } wrongKind)
                    {
                        await FailAsync(call, ExchangeErrors.InvalidRequest(wrongKind, code: "invalid_type"));
                        return;
                    }
                    await ViaAnthropicAsync(call, parsed!, modelRoute, scan);
                }
                else
                {
                    await SendAsync(call, body, scan, modelRoute);
                }
            }
            finally
            {
                await steps.SettleAsync(x, call.Succeeded);
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            RecordGone(call);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// A stored response continues only for the owner that created it; another owner's id is answered as the
    /// upstream answers an id it does not know, so its existence is not revealed.
    /// </summary>
    private async ValueTask<(ExchangeError? Error, ReadOnlyMemory<byte>? Continued)> CheckPreviousResponseAsync(Call call, ReadOnlyMemory<byte> body, bool translates)
    {
        var fields = ResponsesRequestFields.Read(body.Span);
        call.StoresResponse = fields.Stored && !translates;
        if (fields.PreviousResponseId is not { } previous) return (null, null);
        OwnedResponse? owned;
        try
        {
            (owned, _) = await storedResponses.FindAsync(previous, call.X.Owner, call.Ctx.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(logger, e.GetType().Name);
            return (ExchangeErrors.StoreUnavailable, null);
        }
        if (owned is not null && TryContinueStored(owned, translates, ref body)) return (null, body);
        return owned is null || translates ? (ExchangeErrors.PreviousResponseNotFound(previous), null) : (null, null);
    }

    /// <summary>
    /// Masks the body under the caller's policy. A body in which the scanner finds nothing is forwarded as is,
    /// without a JSON tree or a vault scope.
    /// </summary>
    private async ValueTask<(ReadOnlyMemory<byte> Body, JsonObject? Parsed, ExchangeError? Error)> MaskAsync(Call call, ReadOnlyMemory<byte> body)
    {
        var x = call.X;
        var route = MaskingRouteOf(x.Surface);
        var policy = MaskingPolicies.Parse(x.VirtualKey?.Spec.MaskingPolicy) ?? masking.PolicyFor(route);
        if (policy == MaskingPolicy.Off || !masking.MayContainSensitiveData(body.Span)) return (body, null, null);
        var session = steps.BeginMasking(x, route);
        JsonObject? parsed = null;
        try
        {
            parsed = JsonNode.Parse(body.Span, documentOptions: Dto.JsonLimits.Document) as JsonObject;
            if (parsed is not null) await session.MaskJsonBodyAsync(parsed, call.Ctx.RequestAborted);
        }
        catch (JsonException) when (parsed is null)
        {
            // NOTE: the scan passed, so only a key repeated in another spelling (an escape) is left to refuse here.
            return (body, null, ExchangeErrors.InvalidRequest("The request body repeats a key (spelled with different escapes); send each key once.", code: "invalid_json"));
        }
        catch (Exception e) when (steps.MaskingError(e) is { } error)
        {
            return (body, null, error);
        }
        if (session.Summary.Total == 0) return (body, parsed, null);
        call.Ctx.Response.Headers[MaskingSummary.HeaderName] = session.Summary.ToHeaderValue();
        if (session.RestoresResponses && x.Surface != ExchangeSurface.Embeddings) call.Restorer = new OpenAiResponseRestorer(session, x.Surface);
        return parsed is null ? (body, null, null) : (Encoding.UTF8.GetBytes(parsed.ToJsonString(s_maskedJson)), parsed, null);
    }

    private static MaskingRoute MaskingRouteOf(ExchangeSurface surface) => surface switch
    {
        ExchangeSurface.ChatCompletions => MaskingRoute.ChatCompletions,
        ExchangeSurface.Completions => MaskingRoute.Completions,
        // NOTE: embeddings have no route of their own in the masking settings; they follow the Responses/input policy.
        _ => MaskingRoute.Responses,
    };

    /// <summary>Sends through the one transport and relays what came back.</summary>
    private async Task SendAsync(Call call, ReadOnlyMemory<byte> body, RequestScan scan, ModelRoute modelRoute)
    {
        var surface = call.X.Surface;
        var streamsUsage = surface is ExchangeSurface.ChatCompletions or ExchangeSurface.Completions;
        var usageEdit = streamsUsage ? SplicedBody.IncludeUsageEdit(scan) : null;
        var (refused, maxTokensEdit) = surface != ExchangeSurface.Embeddings ? FitContext(call, modelRoute.Model, body, scan) : default;
        if (refused is not null)
        {
            await FailAsync(call, refused);
            return;
        }
        var request = new UpstreamRequest(HttpMethod.Post, s_paths[(int)surface], new SplicedBody(body, scan, usageEdit, maxTokensEdit),
            scan.Stream ? "text/event-stream" : "application/json");
        await SendAndRelayAsync(call, request, modelRoute, scan.Stream, dropUsageChunk: usageEdit is not null);
    }

    /// <summary>One upstream call through the transport, its answer relayed (stream or body) or its failure answered.</summary>
    private async Task SendAndRelayAsync(Call call, UpstreamRequest request, ModelRoute modelRoute, bool stream, bool dropUsageChunk)
    {
        using var result = await forwarder.SendAsync(request, modelRoute, call.Ctx.RequestAborted);
        call.Feature.UpstreamTicks += result.UpstreamTicks;
        call.Result = result;
        call.Deployment = result.Deployment;
        switch (result.Outcome)
        {
            case UpstreamOutcome.Ok when stream && IsEventStream(result.Response!):
                await RelayStreamAsync(call, dropUsageChunk);
                break;
            case UpstreamOutcome.Ok:
            case UpstreamOutcome.ClientError:
                await RelayBodyAsync(call);
                break;
            case UpstreamOutcome.ClientAborted:
                RecordGone(call);
                break;
            default:
                await FailAsync(call, UpstreamFailures.ErrorOf(result, modelRoute.Model.Name) ?? ExchangeErrors.UpstreamUnreachable);
                break;
        }
    }

    /// <summary>Answers the error in OpenAI's dialect (or ends the started stream with its error event) and records it.</summary>
    private Task FailAsync(Call call, ExchangeError error)
    {
        Record(call, error.Status, error.Code);
        return DialectErrorWriter.WriteAsync(call.Ctx, call.X.Surface == ExchangeSurface.Responses ? Dialect.OpenAiResponses : Dialect.OpenAi, error);
    }

    private void RecordGone(Call call)
    {
        if (!call.Ctx.Response.HasStarted) call.Ctx.Response.StatusCode = ExchangeErrors.ClientClosedStatus;
        Record(call, ExchangeErrors.ClientClosedStatus, ExchangeErrors.ClientDisconnected);
    }

    /// <summary>The request's ledger row, with the deployment that answered.</summary>
    private void Record(Call call, int status, string? errorCode)
    {
        var x = call.X;
        if (call.Deployment is { } d)
        {
            x.Upstream = d.Upstream.Name;
            x.PricedModel = d.UpstreamModel;
        }
        steps.Record(x, status, errorCode);
    }

    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpRequest request, int max, CancellationToken cancellationToken)
    {
        var expected = request.ContentLength;
        if (expected > max) return (ArrayPool<byte>.Shared.Rent(1), max + 1);
        var buffer = ArrayPool<byte>.Shared.Rent(expected is > 0 ? (int)expected.Value : 4096);
        var total = 0;
        var body = request.Body;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (total > max) break;
                var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                buffer.AsSpan(0, total).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }
            var n = await body.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (n == 0) break;
            total += n;
            if (total == expected) break;
        }
        return (buffer, total);
    }

    private static bool IsEventStream(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is "text/event-stream";

    /// <summary>One OpenAI-wire request on its way: the exchange state plus what this adapter needs to relay it.</summary>
    private sealed class Call(HttpContext ctx, GatewayRequestFeature feature, ExchangeState x)
    {
        public HttpContext Ctx { get; } = ctx;
        public GatewayRequestFeature Feature { get; } = feature;
        public ExchangeState X { get; } = x;
        public UpstreamResult Result { get; set; } = null!;
        public Deployment? Deployment { get; set; }
        /// <summary>Non-null when the answer needs originals put back.</summary>
        public OpenAiResponseRestorer? Restorer { get; set; }
        /// <summary>The session turn to store once the answer is complete (x-session-id on chat completions).</summary>
        public SessionMemory.Turn? Turn { get; set; }
        /// <summary>True when the upstream stores the response (/v1/responses without store=false): its id is recorded for its owner.</summary>
        public bool StoresResponse { get; set; }
        /// <summary>A stored response's id seen in the stream, not yet recorded.</summary>
        public string? ResponseId { get; set; }
        /// <summary>True when the client got a complete successful answer: the reservation settles to its cost.</summary>
        public bool Succeeded { get; set; }
        /// <summary>A /v1/responses request answered through chat completions: the relayed answer is chat-shaped.</summary>
        public bool AnswersViaChat { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The stored-response records cannot be read ({Error}); the request was refused")]
    private static partial void LogStoreFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream answer on {Deployment} failed: {Reason}")]
    private static partial void LogBodyFailure(ILogger logger, string deployment, string reason);
}
