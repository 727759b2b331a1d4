using System.Buffers;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Api.Anthropic;
using LlmServer.External.Upstreams;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Services.Accounting;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Ownership;
using LlmServer.Services.Pricing;
using LlmServer.Services.Routing;
using LlmServer.Services.Tokens;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace LlmServer.Api.Proxy;

/// <summary>The /v1 operations that carry a model.</summary>
internal enum GatewayRoute
{
    ChatCompletions,
    Completions,
    Responses,
    Embeddings,
}

/// <summary>
/// The hot path: read the body once into a pooled buffer, find model/stream with one reader pass, splice the
/// upstream model name and include_usage in, send with retry/circuit breaking, relay the answer (each SSE
/// event flushed as it arrives), capture usage for the sink.
/// </summary>
internal sealed partial class GatewayProxy(
    IModelRouter router,
    IUpstreamForwarder forwarder,
    IUsageSink usageSink,
    ICostCalculator costs,
    IRequestAdmission admissions,
    ITokenCounter tokens,
    IMaskingService masking,
    ChatCompletionsViaAnthropic viaAnthropic,
    SessionMemory sessions,
    StoredResponses storedResponses,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<GatewayProxy> logger)
{
    private static readonly FrozenSet<string> s_skipHeaders = new[]
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Server", "Date", "Set-Cookie", "Upgrade",
        "Proxy-Connection", "Proxy-Authenticate", "Alt-Svc", "Strict-Transport-Security", "Trailer", "TE", GatewayMiddleware.OverheadHeader,
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private static readonly string[] s_paths = ["chat/completions", "completions", "responses", "embeddings"];
    private static readonly string[] s_usageRoutes = ["chat_completions", "completions", "responses", "embeddings"];

    public async Task ForwardAsync(HttpContext ctx, GatewayRoute route)
    {
        var feature = ctx.Features.Get<GatewayRequestFeature>() ?? new GatewayRequestFeature(Stopwatch.GetTimestamp());
        var max = options.Value.MaxRequestBodyBytes;
        var (buffer, length) = await ReadBodyAsync(ctx.Request, max, ctx.RequestAborted);
        try
        {
            if (length > max)
            {
                await RejectAsync(ctx, feature, route, null, 413, $"The request body exceeds the limit of {max} bytes.", null, "payload_too_large");
                return;
            }
            ReadOnlyMemory<byte> body = buffer.AsMemory(0, length);

            string? sessionId = null;
            if (ctx.Request.Headers.TryGetValue(SessionMemory.Header, out var sid) && !StringValues.IsNullOrEmpty(sid))
            {
                sessionId = sid.ToString();
                if (!SessionMemory.IsValidId(sessionId))
                {
                    await RejectAsync(ctx, feature, route, null, 400, "The x-session-id header must be 1 to 128 printable characters.", SessionMemory.Header, "invalid_session_id");
                    return;
                }
            }
            // NOTE: the client's body is checked before anything (session history included) reads values out of it.
            var scan = RequestScan.Run(body.Span);
            if (scan.Error is not null)
            {
                await RejectAsync(ctx, feature, route, scan.Model, 400, scan.Error, scan.ErrorParam, null);
                return;
            }
            SessionMemory.Turn? turn = null;
            if (route == GatewayRoute.ChatCompletions && sessionId is not null)
            {
                // NOTE: history holds restored text; it is masked again below with the rest of the body.
                var (withHistory, pending) = await sessions.PrepareAsync(feature.Caller.Owner, sessionId, body, ctx.RequestAborted);
                if (withHistory is not null)
                {
                    body = withHistory;
                    scan = RequestScan.Run(body.Span);
                }
                turn = pending;
            }
            if (router.Upstreams.Count == 0)
            {
                // NOTE: a server started with no configuration says what to configure, not "model does not exist".
                var x0 = new Exchange(ctx, feature, route, scan.Model ?? "", false);
                Record(x0, null, 503, null, "no_upstream_configured");
                await GatewayErrors.WriteOpenAiAsync(ctx, 503, NoUpstreamMessage, "server_error", null, "no_upstream_configured");
                return;
            }
            if (!router.TryResolve(scan.Model, out var modelRoute))
            {
                var name = string.IsNullOrEmpty(scan.Model) ? router.DefaultModel : scan.Model;
                await RejectAsync(ctx, feature, route, name, 400, $"The model `{name}` does not exist.", "model", "model_not_found");
                return;
            }

            var storesResponse = false;
            var translatesResponses = route == GatewayRoute.Responses && modelRoute.At(0).Upstream.TranslatesResponses;
            if (route == GatewayRoute.Responses)
            {
                // NOTE: a stored response continues only for the owner that created it; another owner's id is
                // answered as the upstream answers an id it does not know, so its existence is not revealed.
                var fields = ResponsesRequestFields.Read(body.Span);
                storesResponse = fields.Stored && !translatesResponses;
                if (fields.PreviousResponseId is { } previous)
                {
                    OwnedResponse? owned;
                    try
                    {
                        (owned, _) = await storedResponses.FindAsync(previous, feature.Caller.Owner, ctx.RequestAborted);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        LogStoreFailed(logger, e.GetType().Name);
                        var x1 = new Exchange(ctx, feature, route, modelRoute.Model.Name, false);
                        await FailAsync(x1, 503, "Stored responses cannot be looked up right now, so the request was not sent. Please try again shortly.", "store_unavailable");
                        return;
                    }
                    if (owned is not null && TryContinueStored(owned, translatesResponses, ref body)) scan = RequestScan.Run(body.Span);
                    else if (translatesResponses) owned = null;
                    if (owned is null)
                    {
                        await RejectAsync(ctx, feature, route, modelRoute.Model.Name, 400, $"Previous response with id '{previous}' not found.", "previous_response_id", "previous_response_not_found");
                        return;
                    }
                }
            }

            var x = new Exchange(ctx, feature, route, modelRoute.Model.Name, scan.Stream) { StoresResponse = storesResponse };
            var caller = feature.Caller;
            Admission admission;
            try
            {
                admission = await admissions.AdmitAsync(caller.VirtualKey, modelRoute.Model.Name, tokens.For(caller.VirtualKey, modelRoute.Model.Root, body.Span), scan.MaxTokens, ctx.RequestAborted);
            }
            catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
            {
                Record(x, null, 499, null, "client_disconnected");
                return;
            }
            catch (Exception e)
            {
                // NOTE: budgets and shared rate limits live in a database / Redis; when they cannot be checked, refuse (fail closed).
                LogAdmissionFailed(logger, e);
                await FailAsync(x, 503, "Limits and budgets cannot be checked right now, so the request was not sent. Please try again shortly.", "admission_unavailable");
                return;
            }
            if (!admission.Admitted)
            {
                await RefuseAsync(x, admission);
                return;
            }
            var ticket = admission.Ticket!;
            try
            {
                var asSent = body;
                JsonObject? parsed = null;
                var maskingRoute = MaskingRouteOf(route);
                var policy = MaskingPolicies.Parse(caller.VirtualKey?.Spec.MaskingPolicy) ?? masking.PolicyFor(maskingRoute);
                // NOTE: a body in which the scanner finds nothing is forwarded as is, without a JSON tree or a vault scope.
                if (policy != MaskingPolicy.Off && masking.MayContainSensitiveData(body.Span))
                {
                    x.Masking = masking.Begin(maskingRoute, policy, sessionId, caller.LedgerKeyId);
                    try
                    {
                        parsed = JsonNode.Parse(body.Span, documentOptions: Dto.JsonLimits.Document) as JsonObject;
                        if (parsed is not null) await x.Masking.MaskJsonBodyAsync(parsed, ctx.RequestAborted);
                    }
                    catch (JsonException) when (parsed is null)
                    {
                        // NOTE: the scan passed, so only a key repeated in another spelling (an escape) is left to refuse here.
                        await FailAsync(x, 400, "The request body repeats a key (spelled with different escapes); send each key once.", "invalid_json", "invalid_request_error");
                        return;
                    }
                    catch (MaskingBlockedException e)
                    {
                        await FailAsync(x, 400, e.Message, "sensitive_data_blocked", "invalid_request_error");
                        return;
                    }
                    catch (Exception e) when (e is MaskingFailedException or JsonException)
                    {
                        LogMaskingFailed(logger, e.GetType().Name);
                        await FailAsync(x, 503, "Sensitive-data masking is unavailable, so the request was not sent. Please try again shortly.", "masking_unavailable");
                        return;
                    }
                    if (x.Masking.Summary.Total > 0)
                    {
                        ctx.Response.Headers[MaskingSummary.HeaderName] = x.Masking.Summary.ToHeaderValue();
                        if (parsed is not null)
                        {
                            body = Encoding.UTF8.GetBytes(parsed.ToJsonString(s_maskedJson));
                            scan = RequestScan.Run(body.Span);
                        }
                        if (x.Masking.RestoresResponses && route != GatewayRoute.Embeddings) x.Restorer = new OpenAiResponseRestorer(x.Masking, route);
                    }
                }

                if (translatesResponses)
                {
                    await ResponsesViaChatAsync(x, parsed ?? (JsonObject)JsonNode.Parse(body.Span, documentOptions: Dto.JsonLimits.Document)!, asSent, modelRoute, scan);
                }
                else if (route == GatewayRoute.ChatCompletions && modelRoute.At(0).Kind == UpstreamKinds.Anthropic)
                {
                    parsed ??= JsonNode.Parse(body.Span, documentOptions: Dto.JsonLimits.Document) as JsonObject;
                    if (RequestShapes.CheckChat(parsed!) is { } wrongKind)
                    {
                        await FailAsync(x, 400, wrongKind, "invalid_type", "invalid_request_error");
                        return;
                    }
                    await ViaAnthropicAsync(x, parsed!, modelRoute.At(0), scan, turn);
                }
                else
                {
                    var streamsUsage = route is GatewayRoute.ChatCompletions or GatewayRoute.Completions;
                    var usageEdit = streamsUsage ? SplicedBody.IncludeUsageEdit(scan) : null;
                    var request = new UpstreamRequest(HttpMethod.Post, s_paths[(int)route], new SplicedBody(body, scan, usageEdit),
                        scan.Stream ? "text/event-stream" : "application/json");

                    using var result = await forwarder.SendAsync(request, modelRoute, ctx.RequestAborted);
                    feature.UpstreamTicks += result.UpstreamTicks;
                    x.Result = result;
                    switch (result.Outcome)
                    {
                        case UpstreamOutcome.Ok when scan.Stream && IsEventStream(result.Response!):
                            await RelayStreamAsync(x, dropUsageChunk: usageEdit is not null, turn);
                            break;
                        case UpstreamOutcome.Ok:
                        case UpstreamOutcome.ClientError:
                            await RelayBodyAsync(x, turn);
                            break;
                        default:
                            await WriteFailureAsync(x, modelRoute.Model.Name);
                            break;
                    }
                }
                if (x.Settle is { } settle) await ticket.CompleteAsync(settle.Usage.InputTokens, settle.Usage.OutputTokens, settle.Cost, CancellationToken.None);
            }
            finally
            {
                await ticket.DisposeAsync();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A request refused before any upstream call: the OpenAI error, and its ledger row (error code "invalid_request" when none is specific).</summary>
    internal const string NoUpstreamMessage =
        "No upstream is configured: set OPENAI_API_KEY, VLLM_BASE_URL or ANTHROPIC_API_KEY, or LlmServer:Gateway:Upstreams.";

    private Task RejectAsync(HttpContext ctx, GatewayRequestFeature feature, GatewayRoute route, string? model, int status, string message, string? param, string? code)
    {
        var x = new Exchange(ctx, feature, route, model ?? "", false);
        Record(x, null, status, null, code ?? "invalid_request");
        return GatewayErrors.WriteOpenAiAsync(ctx, status, message, "invalid_request_error", param, code);
    }

    private static readonly JsonSerializerOptions s_maskedJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Seconds until the key's shortest budget period starts again (UTC day or month); 0 for a total-only budget.</summary>
    private long BudgetResetSeconds(Services.Keys.VirtualKey? key)
    {
        if (key is null) return 0;
        var now = time.GetUtcNow();
        DateTimeOffset? next = key.Spec.Budget.DailyUsd is not null ? new DateTimeOffset(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero)
            : key.Spec.Budget.MonthlyUsd is not null ? new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1)
            : null;
        return next is { } n ? Math.Max(1, (long)Math.Ceiling((n - now).TotalSeconds)) : 0;
    }

    private static MaskingRoute MaskingRouteOf(GatewayRoute route) => route switch
    {
        GatewayRoute.ChatCompletions => MaskingRoute.ChatCompletions,
        GatewayRoute.Completions => MaskingRoute.Completions,
        // NOTE: embeddings have no route of their own in the masking settings; they follow the Responses/input policy.
        _ => MaskingRoute.Responses,
    };

    private Task RefuseAsync(Exchange x, Admission admission)
    {
        switch (admission.Outcome)
        {
            case AdmissionOutcome.ModelNotAllowed:
                return FailAsync(x, 403, admission.Message ?? $"This key may not use model '{x.Model}'.", "model_not_allowed", "invalid_request_error", "model");
            case AdmissionOutcome.BudgetExceeded:
                var retry = admission.RetryAfterSeconds > 0 ? admission.RetryAfterSeconds : BudgetResetSeconds(x.Feature.Caller.VirtualKey);
                if (retry > 0) x.Ctx.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
                return FailAsync(x, 429, admission.Message ?? "Budget exceeded for this key: its spending limit is reached.", "budget_exceeded", "insufficient_quota");
            default:
                x.Ctx.Response.Headers.RetryAfter = Math.Max(1, admission.RetryAfterSeconds).ToString(CultureInfo.InvariantCulture);
                return FailAsync(x, 429, admission.Message ?? "Rate limit reached; retry shortly.", "rate_limit_exceeded", "requests");
        }
    }

    /// <summary>
    /// GET /v1/responses/{id}: only for the owner that created it through this server, from the upstream that holds
    /// it; an unknown id and another owner's id both answer 404.
    /// </summary>
    public async Task RetrieveResponseAsync(HttpContext ctx, string id)
    {
        var feature = ctx.Features.Get<GatewayRequestFeature>() ?? new GatewayRequestFeature(Stopwatch.GetTimestamp());
        OwnedResponse? owned;
        Deployment? deployment;
        try
        {
            (owned, deployment) = await storedResponses.FindAsync(id, feature.Caller.Owner, ctx.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(logger, e.GetType().Name);
            await GatewayErrors.WriteOpenAiAsync(ctx, 503, "Stored responses cannot be looked up right now. Please try again shortly.", "server_error", null, "store_unavailable");
            return;
        }
        ModelRoute modelRoute;
        if (owned is null)
        {
            await GatewayErrors.WriteOpenAiAsync(ctx, 404, $"No response found with id '{id}'.", "invalid_request_error", null, "response_not_found");
            return;
        }
        if (await TryWriteStoredAsync(ctx, owned)) return;
        if (deployment is not null)
        {
            modelRoute = new ModelRoute(new ModelEntry(deployment.UpstreamModel, [deployment], null, 0), 0);
        }
        else if (!router.TryResolve(null, out modelRoute))
        {
            await GatewayErrors.WriteOpenAiAsync(ctx, 404, $"No response found with id '{id}'.", "invalid_request_error", null, "response_not_found");
            return;
        }
        var request = new UpstreamRequest(HttpMethod.Get, "responses/" + Uri.EscapeDataString(id), null, "application/json");
        using var result = await forwarder.SendAsync(request, modelRoute, ctx.RequestAborted);
        feature.UpstreamTicks += result.UpstreamTicks;
        var exchange = new Exchange(ctx, feature, GatewayRoute.Responses, modelRoute.Model.Name, false) { Result = result, Record = false };
        // NOTE: a stored response holds the placeholders its request was masked with; the vault scope recorded
        // with it (else the caller's: its key, or x-session-id) restores them, as when the response was created.
        if (result.Outcome == UpstreamOutcome.Ok)
        {
            var caller = feature.Caller;
            var sessionId = ctx.Request.Headers.TryGetValue(SessionMemory.Header, out var sid) && SessionMemory.IsValidId(sid.ToString()) ? sid.ToString() : null;
            var session = owned.MaskingScope is { } scope
                ? masking.Resume(MaskingPolicy.Mask, scope)
                : masking.BeginFor(MaskingRoute.Responses, caller.VirtualKey?.Spec.MaskingPolicy, sessionId, caller.LedgerKeyId);
            if (session.RestoresResponses) exchange.Restorer = new OpenAiResponseRestorer(session, GatewayRoute.Responses);
        }
        if (result.Outcome is UpstreamOutcome.Ok or UpstreamOutcome.ClientError) await RelayBodyAsync(exchange, null);
        else await WriteFailureAsync(exchange, modelRoute.Model.Name);
    }

    private sealed class Exchange(HttpContext ctx, GatewayRequestFeature feature, GatewayRoute route, string model, bool stream)
    {
        public HttpContext Ctx { get; } = ctx;
        public GatewayRequestFeature Feature { get; } = feature;
        public GatewayRoute Route { get; } = route;
        public string Model { get; } = model;
        public UpstreamResult Result { get; set; } = null!;
        public bool Stream { get; } = stream;
        public bool Record { get; init; } = true;
        /// <summary>Set once the usage row is written: exactly one per request.</summary>
        public bool Recorded { get; set; }
        public MaskingSession? Masking { get; set; }
        /// <summary>Non-null when the answer needs originals put back.</summary>
        public OpenAiResponseRestorer? Restorer { get; set; }
        /// <summary>True when the upstream stores the response (/v1/responses without store=false): its id is recorded for its owner.</summary>
        public bool StoresResponse { get; init; }
        /// <summary>A stored response's id seen in the stream, not yet recorded.</summary>
        public string? ResponseId { get; set; }
        /// <summary>A /v1/responses request answered through chat completions: the relayed answer is chat-shaped.</summary>
        public bool AnswersViaChat { get; set; }
        /// <summary>What the admission ticket settles to (a 2xx answer); null releases the reservation.</summary>
        public (TokenUsage Usage, decimal? Cost)? Settle { get; set; }
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

    private static void CopyHeaders(HttpResponseMessage from, HttpResponse to)
    {
        foreach (var header in from.Headers.NonValidated)
        {
            if (!s_skipHeaders.Contains(header.Key)) to.Headers[header.Key] = ToStringValues(header.Value);
        }
        foreach (var header in from.Content.Headers.NonValidated)
        {
            if (!s_skipHeaders.Contains(header.Key)) to.Headers[header.Key] = ToStringValues(header.Value);
        }
    }

    private static StringValues ToStringValues(System.Net.Http.Headers.HeaderStringValues values)
    {
        if (values.Count == 1)
        {
            foreach (var v in values) return v;
        }
        return new StringValues(values.ToArray());
    }

    private async Task RelayBodyAsync(Exchange x, SessionMemory.Turn? turn)
    {
        var ctx = x.Ctx;
        var response = x.Result.Response!;
        var start = Stopwatch.GetTimestamp();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(response.Content.Headers.ContentLength is long cl and > 0 and < 64 * 1024 * 1024 ? (int)cl : 8192);
        var total = 0;
        try
        {
            try
            {
                await using var stream = await response.Content.ReadAsStreamAsync(x.Result.Token);
                while (true)
                {
                    if (total == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, total).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    x.Result.ArmRead();
                    var n = await stream.ReadAsync(buffer.AsMemory(total), x.Result.Token);
                    if (n == 0) break;
                    total += n;
                }
            }
            catch (OperationCanceledException) when (x.Result.CancelledByClient)
            {
                ctx.Response.StatusCode = 499;
                return;
            }
            catch (OperationCanceledException)
            {
                x.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                LogBodyFailure(logger, x.Result.Deployment?.Id ?? "-", "timeout while reading the body");
                await FailAsync(x, 504, "The upstream did not finish its answer in time.", "upstream_timeout");
                return;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                x.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                LogBodyFailure(logger, x.Result.Deployment?.Id ?? "-", ex.Message);
                await FailAsync(x, 502, "The upstream connection broke before the answer was complete.", "upstream_disconnected");
                return;
            }
            x.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
            ReadOnlyMemory<byte> answer = buffer.AsMemory(0, total);
            UsageScan usage = default;
            if (x.Result.Outcome == UpstreamOutcome.Ok && (x.Record || x.Restorer is not null) && IsJson(response))
            {
                usage = UsageScanner.Scan(answer.Span, wantId: x.Route == GatewayRoute.Responses);
                if (!usage.Valid)
                {
                    LogBodyFailure(logger, x.Result.Deployment?.Id ?? "-", "the upstream answered 2xx with invalid JSON");
                    await FailAsync(x, 502, "The upstream returned an invalid response.", "upstream_invalid_response");
                    return;
                }
                if (usage.Id is { } id && x.StoresResponse && x.Result.Deployment is { } d)
                {
                    await storedResponses.RecordAsync(id, x.Feature.Caller.Owner, d, x.Masking);
                }
                if (x.Restorer is not null)
                {
                    try
                    {
                        answer = await x.Restorer.RestoreBodyAsync(answer, ctx.RequestAborted);
                    }
                    catch (MaskingFailedException)
                    {
                        LogMaskingFailed(logger, "restore");
                        await FailAsync(x, 503, "The masked values of this answer could not be restored. Please try again shortly.", "masking_unavailable");
                        return;
                    }
                }
                if (turn is not null) SessionMemory.CaptureCompletion(turn, answer.Span);
            }
            ctx.Response.StatusCode = (int)response.StatusCode;
            CopyHeaders(response, ctx.Response);
            ctx.Response.ContentLength = answer.Length;
            if (x.Record) Record(x, ctx.Response.StatusCode, usage.HasUsage ? usage.Usage : null, x.Result.Outcome == UpstreamOutcome.Ok ? null : "upstream_client_error");
            // NOTE: the answer is complete: store the turn before the client sees it, so its next turn finds it.
            if (turn is not null && x.Result.Outcome == UpstreamOutcome.Ok) await sessions.StoreAsync(turn);
            try
            {
                await ctx.Response.Body.WriteAsync(answer, ctx.RequestAborted);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException && ctx.RequestAborted.IsCancellationRequested)
            {
                // NOTE: the client left while we wrote; not a server error.
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool IsJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } m && m.Contains("json", StringComparison.OrdinalIgnoreCase);

    private async Task RelayStreamAsync(Exchange x, bool dropUsageChunk, SessionMemory.Turn? turn)
    {
        var ctx = x.Ctx;
        var response = x.Result.Response!;
        ctx.Response.StatusCode = (int)response.StatusCode;
        CopyHeaders(response, ctx.Response);
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var writer = ctx.Response.BodyWriter;
        var responsesApi = x.Route == GatewayRoute.Responses && !x.AnswersViaChat;
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var filled = 0;
        var terminal = false;
        var stored = false;
        TokenUsage? usage = null;
        string? error = null;
        try
        {
            await ctx.Response.StartAsync(ctx.RequestAborted);
            await using var stream = await response.Content.ReadAsStreamAsync(x.Result.Token);
            while (true)
            {
                x.Result.ArmRead();
                int n;
                try
                {
                    n = await stream.ReadAsync(buffer.AsMemory(filled), x.Result.Token);
                }
                catch (OperationCanceledException) when (x.Result.CancelledByClient)
                {
                    error = "client_disconnected";
                    break;
                }
                catch (OperationCanceledException)
                {
                    var total = x.Result.TotalTimeoutReached;
                    LogBodyFailure(logger, x.Result.Deployment?.Id ?? "-", total ? "total timeout mid-stream" : "idle timeout mid-stream");
                    error = "upstream_timeout";
                    writer.Write(GatewayErrors.StreamErrorEvent(responsesApi, "The upstream stopped sending before the answer was complete.", error));
                    await writer.FlushAsync(ctx.RequestAborted);
                    break;
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException)
                {
                    LogBodyFailure(logger, x.Result.Deployment?.Id ?? "-", ex.Message);
                    error = "upstream_disconnected";
                    writer.Write(GatewayErrors.StreamErrorEvent(responsesApi, "The upstream connection broke before the answer was complete.", error));
                    await writer.FlushAsync(ctx.RequestAborted);
                    break;
                }
                if (n == 0)
                {
                    if (filled > 0) writer.Write(buffer.AsSpan(0, filled));
                    if (!terminal)
                    {
                        LogBodyFailure(logger, x.Result.Deployment?.Id ?? "-", "the stream ended without its final event");
                        error = "upstream_disconnected";
                        writer.Write(GatewayErrors.StreamErrorEvent(responsesApi, "The upstream ended the stream before the answer was complete.", error));
                    }
                    await writer.FlushAsync(ctx.RequestAborted);
                    break;
                }
                filled += n;
                var start = 0;
                int end;
                while ((end = EventEnd(buffer.AsSpan(start, filled - start))) > 0)
                {
                    var wasTerminal = terminal;
                    var write = ProcessEvent(buffer.AsSpan(start, end), responsesApi, dropUsageChunk, x.Restorer is null ? turn : null, ref usage, ref terminal, x);
                    ReadOnlyMemory<byte> output = buffer.AsMemory(start, end);
                    if (write && x.Restorer is not null) output = await RestoreEventAsync(x.Restorer, output, turn, ctx.RequestAborted);
                    if (x.ResponseId is { } responseId && x.Result.Deployment is { } deployment)
                    {
                        // NOTE: before the final event reaches the client, so a retrieval right after it finds the record.
                        x.ResponseId = null;
                        await storedResponses.RecordAsync(responseId, x.Feature.Caller.Owner, deployment, x.Masking);
                    }
                    if (turn is not null && terminal && !wasTerminal)
                    {
                        // NOTE: the answer is complete: store the turn before the client sees the end, so its next turn finds it.
                        stored = true;
                        await sessions.StoreAsync(turn);
                    }
                    if (write) writer.Write(output.Span);
                    start += end;
                }
                if (start > 0)
                {
                    buffer.AsSpan(start, filled - start).CopyTo(buffer);
                    filled -= start;
                }
                if (filled == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var flush = await writer.FlushAsync(ctx.RequestAborted);
                if (flush.IsCanceled || flush.IsCompleted)
                {
                    error = "client_disconnected";
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            error = "client_disconnected";
        }
        catch (IOException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            error = "client_disconnected";
        }
        catch (MaskingFailedException)
        {
            LogMaskingFailed(logger, "stream restore");
            error = "masking_unavailable";
            try
            {
                writer.Write(GatewayErrors.StreamErrorEvent(responsesApi, "The masked values of this answer could not be restored.", error));
                await writer.FlushAsync(ctx.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        Record(x, error is null ? ctx.Response.StatusCode : error == "client_disconnected" ? 499 : 502, usage, error);
        if (turn is not null && error is null && terminal && !stored) await sessions.StoreAsync(turn);
    }

    /// <summary>One event with originals restored (a held-back tail goes out before [DONE] as its own chunk).</summary>
    private static async ValueTask<ReadOnlyMemory<byte>> RestoreEventAsync(OpenAiResponseRestorer restorer, ReadOnlyMemory<byte> ev, SessionMemory.Turn? turn, CancellationToken cancellationToken)
    {
        var (dataOffset, payloadStart, payloadLength) = LocateData(ev.Span);
        if (dataOffset < 0) return ev;
        var payload = ev.Slice(payloadStart, payloadLength);
        if (payload.Span.SequenceEqual("[DONE]"u8))
        {
            var tail = await restorer.FlushAllAsync(cancellationToken);
            if (tail is null) return ev;
            if (turn is not null) CaptureFrom(turn, tail);
            var both = new byte[tail.Length + ev.Length];
            tail.CopyTo(both, 0);
            ev.Span.CopyTo(both.AsSpan(tail.Length));
            return both;
        }
        var rewritten = await restorer.RewriteEventAsync(ev, dataOffset, payload, cancellationToken);
        if (turn is not null)
        {
            if (rewritten is null) SessionMemory.CaptureDelta(turn, payload.Span);
            else CaptureFrom(turn, rewritten);
        }
        return rewritten ?? ev;
    }

    private static void CaptureFrom(SessionMemory.Turn turn, byte[] ev)
    {
        var (_, start, length) = LocateData(ev);
        if (start >= 0) SessionMemory.CaptureDelta(turn, ev.AsSpan(start, length));
    }

    /// <summary>Where the data: line of an event starts, and its payload (one line).</summary>
    private static (int DataOffset, int PayloadStart, int PayloadLength) LocateData(ReadOnlySpan<byte> ev)
    {
        var d = ev.IndexOf("data:"u8);
        if (d < 0) return (-1, -1, 0);
        var p = d + 5;
        if (p < ev.Length && ev[p] == ' ') p++;
        var nl = ev[p..].IndexOf((byte)'\n');
        var len = nl < 0 ? ev.Length - p : nl;
        if (len > 0 && ev[p + len - 1] == '\r') len--;
        return (d, p, len);
    }

    /// <summary>Length of the first complete SSE event (its blank line included), or 0.</summary>
    private static int EventEnd(ReadOnlySpan<byte> span)
    {
        var offset = 0;
        while (true)
        {
            var i = span[offset..].IndexOf((byte)'\n');
            if (i < 0) return 0;
            var at = offset + i + 1;
            if (at < span.Length && span[at] == '\n') return at + 1;
            if (at + 1 < span.Length && span[at] == '\r' && span[at + 1] == '\n') return at + 2;
            if (at >= span.Length) return 0;
            offset = at;
        }
    }

    /// <summary>Inspects one event; false when it must not reach the client (the usage chunk it did not ask for).</summary>
    private bool ProcessEvent(ReadOnlySpan<byte> ev, bool responsesApi, bool dropUsageChunk, SessionMemory.Turn? turn, ref TokenUsage? usage, ref bool terminal, Exchange x)
    {
        var d = ev.IndexOf("data:"u8);
        if (d < 0) return true;
        var payload = ev[(d + 5)..];
        if (payload.Length > 0 && payload[0] == ' ') payload = payload[1..];
        var nl = payload.IndexOf((byte)'\n');
        if (nl >= 0) payload = payload[..nl];
        payload = payload.TrimEnd((byte)'\r');
        if (payload.SequenceEqual("[DONE]"u8))
        {
            terminal = true;
            return true;
        }
        if (responsesApi)
        {
            var isEnd = ev.IndexOf("\"response.completed\""u8) >= 0 || ev.IndexOf("\"response.incomplete\""u8) >= 0 || ev.IndexOf("\"response.failed\""u8) >= 0;
            if (isEnd)
            {
                terminal = true;
                var scan = UsageScanner.Scan(payload, wantId: true);
                if (scan.HasUsage) usage = scan.Usage;
                if (x.StoresResponse) x.ResponseId = scan.Id;
            }
            return true;
        }
        if (turn is not null) SessionMemory.CaptureDelta(turn, payload);
        var u = payload.IndexOf("\"usage\""u8);
        if (u < 0) return true;
        var rest = payload[(u + 7)..].TrimStart(" \t:"u8);
        if (rest.Length == 0 || rest[0] != '{') return true;
        var chunk = UsageScanner.Scan(payload, wantId: false);
        if (!chunk.HasUsage) return true;
        usage = chunk.Usage;
        return !(dropUsageChunk && chunk.ChoicesEmpty);
    }

    private async Task WriteFailureAsync(Exchange x, string model)
    {
        var r = x.Result;
        switch (r.Outcome)
        {
            case UpstreamOutcome.ClientAborted:
                x.Ctx.Response.StatusCode = 499;
                Record(x, 499, null, "client_disconnected");
                return;
            case UpstreamOutcome.Timeout:
                await FailAsync(x, 504, "The upstream did not answer in time.", "upstream_timeout");
                return;
            case UpstreamOutcome.RateLimited:
                if (r.RetryAfter is { } after) x.Ctx.Response.Headers.RetryAfter = Math.Ceiling(after.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                await FailAsync(x, 429, $"Rate limit reached for `{model}` at the upstream. Please try again later.", "rate_limit_exceeded", "requests");
                return;
            case UpstreamOutcome.UpstreamError:
                await FailAsync(x, 502, $"The upstream failed to answer (status {r.UpstreamStatus}).", "upstream_error");
                return;
            case UpstreamOutcome.CircuitOpen:
                await FailAsync(x, 503, $"The model `{model}` is temporarily unavailable. Please try again shortly.", "upstream_unavailable");
                return;
            case UpstreamOutcome.Unsupported:
                await FailAsync(x, 400, $"The model `{model}` is served by an Anthropic upstream; call it through /v1/messages.", "model_not_supported", "invalid_request_error", "model");
                return;
            default:
                await FailAsync(x, 502, "The upstream could not be reached.", "upstream_unreachable");
                return;
        }
    }

    private Task FailAsync(Exchange x, int status, string message, string code, string type = "server_error", string? param = null)
    {
        if (x.Record) Record(x, status, null, code);
        return GatewayErrors.WriteOpenAiAsync(x.Ctx, status, message, type, param, code);
    }

    private void Record(Exchange x, int status, TokenUsage? usage, string? errorCode) =>
        Record(x, x.Result?.Deployment, status, usage, errorCode);

    private void Record(Exchange x, Deployment? deployment, int status, TokenUsage? usage, string? errorCode)
    {
        if (!x.Record || x.Recorded) return;
        x.Recorded = true;
        decimal? cost = null;
        if (usage is { } u && deployment is not null) cost = costs.Compute(deployment.UpstreamModel, u).Usd;
        // NOTE: a 2xx without usage settles at the reservation (cost null): a budget never under-counts what it cannot see.
        if (status is >= 200 and < 300 && errorCode is null) x.Settle = (usage ?? default, usage is null ? null : cost);
        var t = usage ?? default;
        var masked = x.Masking?.Summary;
        usageSink.Record(new UsageRecord
        {
            Timestamp = time.GetUtcNow(),
            KeyId = x.Feature.Caller.LedgerKeyId,
            SessionId = x.Ctx.Request.Headers.TryGetValue(SessionMemory.Header, out var sid) ? sid.ToString() : null,
            Route = s_usageRoutes[(int)x.Route],
            Model = x.Model.Length == 0 ? null : x.Model,
            Upstream = deployment?.Upstream.Name,
            Status = status,
            InputTokens = t.InputTokens,
            CachedTokens = t.CachedTokens,
            OutputTokens = t.OutputTokens,
            ReasoningTokens = t.ReasoningTokens,
            CostUsd = cost,
            ApiKeySource = "server",
            LatencyMs = Stopwatch.GetElapsedTime(x.Feature.Start).TotalMilliseconds,
            OverheadMs = x.Feature.OverheadMs,
            Stream = x.Stream,
            MaskedCounts = masked is { Total: > 0 } ? new Dictionary<string, int>(masked.Counts) : null,
            ErrorCode = errorCode,
        });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The stored-response records cannot be read ({Error}); the request was refused")]
    private static partial void LogStoreFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Admission (limits, budgets) failed; the request was refused")]
    private static partial void LogAdmissionFailed(ILogger logger, Exception ex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Masking failed ({Kind}); the request was refused and not sent upstream")]
    private static partial void LogMaskingFailed(ILogger logger, string kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream answer on {Deployment} failed: {Reason}")]
    private static partial void LogBodyFailure(ILogger logger, string deployment, string reason);
}
