using LlmServer.Api.Pipeline;
using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Dto.Anthropic;
using LlmServer.External.Anthropic;
using LlmServer.Services.Accounting;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Auth;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Services.Pricing;
using LlmServer.Services.Tokens;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LlmServer.Api.Anthropic;

/// <summary>
/// Serves POST /v1/messages and /v1/messages/count_tokens: validates, picks an upstream through
/// <see cref="IMessagesUpstreamSelector"/>, then either passes the request through to an Anthropic upstream
/// (body and SSE unchanged, flushed per read) or translates it to OpenAI chat.completions and the answer back.
/// Every failure is answered in Anthropic's error shape; after a stream has started, as an <c>error</c> event.
/// </summary>
public sealed partial class MessagesProxy(
    IMessagesUpstreamSelector selector,
    LlmServer.Services.Routing.IModelRouter router,
    IRequestAdmission admission_,
    IMaskingService masking_,
    UpstreamHttpClients clients,
    IOptionsMonitor<ProviderEndpointOptions> providers,
    IUsageSink usageSink,
    ICostCalculator costs,
    ITokenCounter tokens,
    TimeProvider time,
    ILogger<MessagesProxy> logger)
{
    private const string DefaultAnthropicVersion = "2023-06-01";
    private const int MaxErrorBody = 64 * 1024;
    private static readonly string[] s_passHeaders = ["request-id", "retry-after", "anthropic-organization-id"];

    /// <summary>POST /v1/messages.</summary>
    public async Task MessagesAsync(HttpContext context)
    {
        var exchange = new MessagesExchange(Stopwatch.GetTimestamp(), Caller(context), SessionId(context));
        AdmissionTicket? ticket = null;
        try
        {
            var (body, raw) = await ReadRequestAsync(context, requireMaxTokens: true);
            if (body is null)
            {
                exchange.ErrorCode = "invalid_request";
                return;
            }
            var model = J(body["model"])!;
            exchange.Model = model;
            exchange.Stream = IsStream(body);
            var upstream = selector.Select(model);
            if (upstream is null && router.Upstreams.Count == 0)
            {
                exchange.ErrorCode = "no_upstream_configured";
                await WriteErrorAsync(context, 503, AnthropicErrorTypes.Api, LlmServer.Services.Exchange.ExchangeErrors.NoUpstreamConfigured.Message);
                return;
            }
            if (upstream is null)
            {
                exchange.ErrorCode = "model_not_found";
                await WriteErrorAsync(context, 404, AnthropicErrorTypes.NotFound,
                    $"model: '{model}' is not served here. Use a model listed by GET /v1/models, or name it in LlmServer:Gateway:Models.");
                return;
            }
            exchange.Upstream = upstream;

            var admission = await admission_.AdmitAsync(exchange.Caller.VirtualKey, model, tokens.For(exchange.Caller.VirtualKey, upstream.Model, raw),
                body["max_tokens"] is JsonValue mv && mv.TryGetValue<long>(out var maxTokens) ? maxTokens : null, context.RequestAborted);
            if (!admission.Admitted)
            {
                await WriteRefusalAsync(context, exchange, admission);
                return;
            }
            ticket = admission.Ticket;

            var masking = masking_.BeginFor(MaskingRoute.Messages, exchange.Caller.VirtualKey?.Spec.MaskingPolicy, exchange.SessionId, exchange.Caller.LedgerKeyId);
            exchange.Masking = masking;
            try
            {
                var counts = await masking.MaskJsonBodyAsync(body, context.RequestAborted);
                if (counts.Count > 0) context.Response.Headers[MaskingSummary.HeaderName] = masking.Summary.ToHeaderValue();
            }
            catch (MaskingBlockedException e)
            {
                exchange.ErrorCode = "sensitive_data_blocked";
                await WriteErrorAsync(context, 400, AnthropicErrorTypes.InvalidRequest, e.Message);
                return;
            }
            catch (MaskingFailedException e)
            {
                LogMaskingFailed(logger, e.Message);
                exchange.ErrorCode = "masking_failed";
                await WriteErrorAsync(context, 503, AnthropicErrorTypes.Api,
                    "Sensitive-data masking is unavailable, so the request was not sent upstream. Retry later. (" + e.Message + ")");
                return;
            }
            var restore = masking.RestoresResponses && masking.Summary.Total > 0 ? masking : null;

            var feature = context.Features.Get<GatewayRequestFeature>();
            var upstreamBefore = feature?.UpstreamTicks ?? 0;
            var upstreamStart = Stopwatch.GetTimestamp();
            try
            {
                await ServeAsync(context, exchange, upstream, body, raw, masking, restore, model);
            }
            finally
            {
                // NOTE: the whole exchange with the upstream (streamed body included) is upstream time, not gateway overhead.
                if (feature is not null) feature.UpstreamTicks = upstreamBefore + (Stopwatch.GetTimestamp() - upstreamStart);
            }
        }
        catch (MaskingFailedException e) when (!context.RequestAborted.IsCancellationRequested)
        {
            // NOTE: restoring the answer failed (vault gone mid-request); never send placeholders silently as if restored.
            LogMaskingFailed(logger, e.Message);
            exchange.ErrorCode = "masking_failed";
            await WriteErrorAsync(context, 503, AnthropicErrorTypes.Api, "Sensitive-data restoring failed; the answer was withheld. Retry later.");
        }
        finally
        {
            await SettleAsync(context, exchange, ticket);
        }
    }

    /// <summary>The upstream exchange: passthrough to an Anthropic upstream, or translation to chat.completions.</summary>
    private async Task ServeAsync(HttpContext context, MessagesExchange exchange, MessagesUpstream upstream, JsonObject body, byte[] raw,
        MaskingSession masking, MaskingSession? restore, string model)
    {
        if (upstream.Dialect == UpstreamDialect.Anthropic)
        {
            var rewrite = !string.Equals(upstream.Model, model, StringComparison.Ordinal);
            if (rewrite) body["model"] = upstream.Model;
            if (rewrite || masking.Summary.Total > 0) raw = AnthropicJson.ToUtf8(body);
            // NOTE: a renamed model needs the answer rewritten too; the session (restoring or not) drives that pass.
            await PassThroughAsync(context, upstream, raw, UpstreamHttpClients.MessagesUri(upstream.BaseUrl), exchange.Stream, exchange.Usage,
                rewrite ? masking : restore, rewrite ? model : null);
        }
        else
        {
            await TranslateAsync(context, upstream, body, exchange.Usage, restore);
        }
    }

    private static CallerIdentity Caller(HttpContext context) =>
        context.Features.Get<GatewayRequestFeature>()?.Caller ?? CallerIdentity.Anonymous;

    /// <summary>
    /// The conversation a request belongs to: x-session-id, else the id Claude Code sends with every request of a
    /// session, so the ledger groups an agent's turns and its masked values keep their placeholders across them.
    /// </summary>
    private static string? SessionId(HttpContext context)
    {
        var s = context.Request.Headers["x-session-id"].ToString();
        if (string.IsNullOrWhiteSpace(s)) s = context.Request.Headers[ClaudeCodeSessionHeader].ToString();
        return string.IsNullOrWhiteSpace(s) || s.Length > 200 ? null : s.Trim();
    }

    private const string ClaudeCodeSessionHeader = "X-Claude-Code-Session-Id";

    private static async Task WriteRefusalAsync(HttpContext context, MessagesExchange exchange, Admission admission)
    {
        switch (admission.Outcome)
        {
            case AdmissionOutcome.ModelNotAllowed:
                exchange.ErrorCode = "model_not_allowed";
                await WriteErrorAsync(context, 403, AnthropicErrorTypes.Permission, admission.Message ?? "This key may not use this model.");
                break;
            case AdmissionOutcome.BudgetExceeded:
                exchange.ErrorCode = "budget_exceeded";
                context.Response.Headers.RetryAfter = Math.Max(1, admission.RetryAfterSeconds > 0 ? admission.RetryAfterSeconds : 60).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, 429, AnthropicErrorTypes.RateLimit, admission.Message ?? "The budget of this key is exhausted.");
                break;
            default:
                exchange.ErrorCode = "rate_limited";
                context.Response.Headers.RetryAfter = Math.Max(1, admission.RetryAfterSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(context, 429, AnthropicErrorTypes.RateLimit, admission.Message ?? "Rate limit reached; retry later.");
                break;
        }
    }

    /// <summary>Settles (or releases) the admission and writes the request's one ledger row.</summary>
    private async Task SettleAsync(HttpContext context, MessagesExchange exchange, AdmissionTicket? ticket)
    {
        var usage = exchange.Usage.Value;
        var tokens = usage ?? default;
        var status = context.RequestAborted.IsCancellationRequested ? 499 : context.Response.StatusCode;
        var cost = usage is null || exchange.Model is null ? null : costs.Compute(exchange.Model, tokens).Usd;
        if (ticket is not null)
        {
            try
            {
                if (status < 400 && usage is not null) await ticket.CompleteAsync(tokens.InputTokens, tokens.OutputTokens, cost, CancellationToken.None);
                else await ticket.DisposeAsync();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogSettleFailed(logger, e.GetType().Name);
                await ticket.DisposeAsync();
            }
        }
        var feature = context.Features.Get<GatewayRequestFeature>();
        usageSink.Record(new UsageRecord
        {
            Timestamp = time.GetUtcNow(),
            KeyId = exchange.Caller.LedgerKeyId,
            SessionId = exchange.SessionId,
            Route = "messages",
            Model = exchange.Model,
            Upstream = exchange.Upstream?.Name,
            Status = status,
            InputTokens = tokens.InputTokens,
            CachedTokens = tokens.CachedTokens,
            OutputTokens = tokens.OutputTokens,
            ReasoningTokens = tokens.ReasoningTokens,
            CostUsd = cost,
            ApiKeySource = "server",
            LatencyMs = Stopwatch.GetElapsedTime(exchange.Started).TotalMilliseconds,
            OverheadMs = feature?.OverheadMs ?? 0,
            Stream = exchange.Stream,
            MaskedCounts = exchange.Masking is { Summary.Total: > 0 } m ? new Dictionary<string, int>(m.Summary.Counts) : null,
            ErrorCode = exchange.ErrorCode ?? (status >= 400 ? "upstream_error" : null),
        });
    }

    /// <summary>What one /v1/messages request did, for the ledger.</summary>
    private sealed class MessagesExchange(long started, CallerIdentity caller, string? sessionId)
    {
        public long Started { get; } = started;
        public CallerIdentity Caller { get; } = caller;
        public string? SessionId { get; } = sessionId;
        public string? Model { get; set; }
        public bool Stream { get; set; }
        public MessagesUpstream? Upstream { get; set; }
        public MaskingSession? Masking { get; set; }
        public UsageBox Usage { get; } = new();
        public string? ErrorCode { get; set; }
    }

    /// <summary>Usage found while serving, for the ledger.</summary>
    private sealed class UsageBox
    {
        public TokenUsage? Value { get; set; }
    }

    private static TokenUsage? FromOpenAi(JsonNode? usage) => usage is JsonObject u
        ? new TokenUsage(
            (long?)u["prompt_tokens"] ?? 0,
            (long?)u["prompt_tokens_details"]?["cached_tokens"] ?? 0,
            (long?)u["completion_tokens"] ?? 0,
            (long?)u["completion_tokens_details"]?["reasoning_tokens"] ?? 0)
        : null;

    /// <summary>POST /v1/messages/count_tokens: exact from an Anthropic upstream, else the server's token counter for the upstream model (see <see cref="ITokenCounter"/>).</summary>
    public async Task CountTokensAsync(HttpContext context)
    {
        var (body, raw) = await ReadRequestAsync(context, requireMaxTokens: false);
        if (body is null) return;
        var model = J(body["model"])!;
        var upstream = selector.Select(model);
        if (upstream is { Dialect: UpstreamDialect.Anthropic })
        {
            // NOTE: counting sends the prompt upstream too, so it is masked like the request itself.
            var caller = Caller(context);
            var masking = masking_.BeginFor(MaskingRoute.Messages, caller.VirtualKey?.Spec.MaskingPolicy, SessionId(context), caller.LedgerKeyId);
            try
            {
                await masking.MaskJsonBodyAsync(body, context.RequestAborted);
            }
            catch (MaskingBlockedException e)
            {
                await WriteErrorAsync(context, 400, AnthropicErrorTypes.InvalidRequest, e.Message);
                return;
            }
            catch (MaskingFailedException e)
            {
                LogMaskingFailed(logger, e.Message);
                await WriteErrorAsync(context, 503, AnthropicErrorTypes.Api, "Sensitive-data masking is unavailable, so the request was not sent upstream. Retry later.");
                return;
            }
            if (masking.Summary.Total > 0 || !string.Equals(upstream.Model, model, StringComparison.Ordinal))
            {
                body["model"] = upstream.Model;
                raw = AnthropicJson.ToUtf8(body);
            }
            await PassThroughAsync(context, upstream, raw, UpstreamHttpClients.MessagesUri(upstream.BaseUrl, countTokens: true), stream: false, usage: null);
            return;
        }
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        var result = new AnthropicCountTokensResponse { InputTokens = tokens.CountRequest(upstream?.Model ?? model, raw) };
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(result, AnthropicJsonContext.Default.AnthropicCountTokensResponse), context.RequestAborted);
    }

    private static string? J(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static bool IsStream(JsonObject body) => body["stream"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private async Task<(JsonObject? Body, byte[] Raw)> ReadRequestAsync(HttpContext context, bool requireMaxTokens)
    {
        byte[] raw;
        try
        {
            using var ms = new MemoryStream();
            await context.Request.Body.CopyToAsync(ms, context.RequestAborted);
            raw = ms.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteErrorAsync(context, 413, AnthropicErrorTypes.RequestTooLarge, "Request exceeds the maximum allowed number of bytes.");
            return (null, []);
        }
        if (LlmServer.Dto.JsonBodyCheck.Validate(raw) is { } unreadable)
        {
            await WriteErrorAsync(context, 400, AnthropicErrorTypes.InvalidRequest, unreadable.Message);
            return (null, []);
        }
        JsonNode? node;
        try
        {
            node = raw.Length == 0 ? null : JsonNode.Parse(raw, documentOptions: LlmServer.Dto.JsonLimits.Document);
        }
        catch (JsonException e)
        {
            await WriteErrorAsync(context, 400, AnthropicErrorTypes.InvalidRequest,
                $"The request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
            return (null, []);
        }
        var checks = context.RequestServices.GetRequiredService<FluentValidation.IValidator<MessagesRequestBody>>()
            .Validate(new MessagesRequestBody(node, CountTokens: !requireMaxTokens));
        if (!checks.IsValid)
        {
            await WriteErrorAsync(context, 400, AnthropicErrorTypes.InvalidRequest, checks.Errors[0].ErrorMessage);
            return (null, []);
        }
        // NOTE: the kinds of the other fields, so a value of the wrong kind is a 400 naming it on every path, passthrough included.
        if (RequestShapes.CheckMessages((JsonObject)node!) is { } shape)
        {
            await WriteErrorAsync(context, 400, AnthropicErrorTypes.InvalidRequest, shape);
            return (null, []);
        }
        return ((JsonObject)node!, raw);
    }

    private TimeSpan Timeout(MessagesUpstream upstream)
    {
        if (upstream.IdleTimeout is { } idle && idle > TimeSpan.Zero) return idle;
        var seconds = providers.Get(upstream.Name).TimeoutSeconds;
        return seconds > 0 ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromSeconds(120);
    }

    private async Task PassThroughAsync(HttpContext context, MessagesUpstream upstream, byte[] raw, Uri target, bool stream, UsageBox? usage, MaskingSession? restore = null, string? publicModel = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(raw) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (!string.IsNullOrEmpty(upstream.ApiKey)) request.Headers.TryAddWithoutValidation("x-api-key", upstream.ApiKey);
        var version = context.Request.Headers["anthropic-version"].ToString();
        if (string.IsNullOrEmpty(version)) version = providers.Get(upstream.Name).Version is { Length: > 0 } v ? v : DefaultAnthropicVersion;
        request.Headers.TryAddWithoutValidation("anthropic-version", version);
        var beta = context.Request.Headers["anthropic-beta"].ToString();
        if (!string.IsNullOrEmpty(beta)) request.Headers.TryAddWithoutValidation("anthropic-beta", beta);

        using var call = new UpstreamCall(context.RequestAborted, Timeout(upstream));
        using var response = await SendAsync(context, upstream, request, call);
        if (response is null) return;
        if (!response.IsSuccessStatusCode)
        {
            await WriteUpstreamErrorAsync(context, upstream, response, call);
            return;
        }

        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var h in s_passHeaders)
        {
            if (response.Headers.TryGetValues(h, out var values)) context.Response.Headers[h] = values.ToArray();
        }
        context.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? (stream ? "text/event-stream" : "application/json");
        if (!stream)
        {
            await RelayPlainAsync(context, upstream, response, call, usage, restore, publicModel);
            return;
        }
        StartStream(context);

        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var scanner = usage is null ? null : new AnthropicUsageScanner(stream);
        var sseRestorer = restore is not null && stream ? new AnthropicSseRestorer(restore, publicModel) : null;
        var restored = sseRestorer is null ? null : new ArrayBufferWriter<byte>(16 * 1024);
        try
        {
            await using var source = await response.Content.ReadAsStreamAsync(call.Token);
            if (restore is not null && !stream)
            {
                await RestorePlainAsync(context, source, restore, publicModel, scanner, call);
                return;
            }
            while (true)
            {
                call.Arm();
                var n = await source.ReadAsync(buffer, call.Token);
                if (n == 0) break;
                scanner?.Feed(buffer.AsSpan(0, n));
                if (sseRestorer is not null)
                {
                    await sseRestorer.WriteAsync(buffer.AsMemory(0, n), restored!, context.RequestAborted);
                    await FlushAsync(context, restored!);
                    continue;
                }
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, n), context.RequestAborted);
                if (stream) await context.Response.Body.FlushAsync(context.RequestAborted);
            }
            if (sseRestorer is not null)
            {
                await sseRestorer.CompleteAsync(restored!, context.RequestAborted);
                await FlushAsync(context, restored!);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            if (context.RequestAborted.IsCancellationRequested) return;
            LogStreamBroken(logger, upstream.Name, call.TimedOut);
            if (stream)
            {
                await WriteStreamErrorAsync(context, call.TimedOut ? AnthropicErrorTypes.Timeout : AnthropicErrorTypes.Api,
                    call.TimedOut ? "The upstream provider stopped responding." : "The connection to the upstream provider was lost.");
            }
            else
            {
                context.Abort();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            scanner?.Complete();
            if (usage is not null) usage.Value = scanner?.Usage;
        }
    }

    /// <summary>A plain (non-streamed) Anthropic answer with masked values restored; the body is small, so it is read whole.</summary>
    private static async Task RestorePlainAsync(HttpContext context, Stream source, MaskingSession restore, string? publicModel, AnthropicUsageScanner? scanner, UpstreamCall call)
    {
        using var ms = new MemoryStream();
        call.Arm();
        await source.CopyToAsync(ms, call.Token);
        var bytes = ms.GetBuffer().AsMemory(0, (int)ms.Length);
        scanner?.Feed(bytes.Span);
        JsonObject? message;
        try
        {
            message = JsonNode.Parse(bytes.Span) as JsonObject;
        }
        catch (JsonException)
        {
            message = null;
        }
        if (message is null)
        {
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
            return;
        }
        await AnthropicResponseRestorer.RestoreMessageAsync(message, restore, context.RequestAborted);
        if (publicModel is not null && message["model"] is not null) message["model"] = publicModel;
        await context.Response.Body.WriteAsync(AnthropicJson.ToUtf8(message), context.RequestAborted);
    }

    private async Task TranslateAsync(HttpContext context, MessagesUpstream upstream, JsonObject body, UsageBox usage, MaskingSession? restore)
    {
        JsonObject chat;
        try
        {
            chat = MessagesToChatRequest.Translate(body, upstream.Translation);
        }
        catch (AnthropicTranslationException e)
        {
            await WriteErrorAsync(context, 400, AnthropicErrorTypes.InvalidRequest, e.Message);
            return;
        }
        var stream = IsStream(body);
        var model = J(body["model"]);
        var stops = body["stop_sequences"] as JsonArray;

        using var request = new HttpRequestMessage(HttpMethod.Post, upstream.ChatCompletionsUri ?? UpstreamHttpClients.ChatCompletionsUri(upstream.BaseUrl))
        {
            Content = new ByteArrayContent(AnthropicJson.ToUtf8(chat)),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (!string.IsNullOrEmpty(upstream.ApiKey))
        {
            if (upstream.ApiKeyHeader is { } header) request.Headers.TryAddWithoutValidation(header, upstream.ApiKey);
            else request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + upstream.ApiKey);
        }

        using var call = new UpstreamCall(context.RequestAborted, Timeout(upstream));
        using var response = await SendAsync(context, upstream, request, call);
        if (response is null) return;
        if (!response.IsSuccessStatusCode)
        {
            await WriteUpstreamErrorAsync(context, upstream, response, call);
            return;
        }

        if (!stream)
        {
            JsonObject? completion;
            try
            {
                await using var s = await response.Content.ReadAsStreamAsync(call.Token);
                completion = await JsonNode.ParseAsync(s, cancellationToken: call.Token) as JsonObject;
            }
            catch (JsonException)
            {
                completion = null;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
            {
                if (context.RequestAborted.IsCancellationRequested) return;
                await WriteFailureAsync(context, upstream, call.TimedOut);
                return;
            }
            if (completion is null || completion["choices"] is not JsonArray)
            {
                LogBadUpstreamBody(logger, upstream.Name);
                await WriteErrorAsync(context, 502, AnthropicErrorTypes.Api, "The upstream provider returned an invalid response.");
                return;
            }
            usage.Value = FromOpenAi(completion["usage"]);
            var message = ChatToMessagesResponse.Translate(completion, model, stops);
            if (restore is not null) await AnthropicResponseRestorer.RestoreMessageAsync(message, restore, context.RequestAborted);
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(AnthropicJson.ToUtf8(message), context.RequestAborted);
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        StartStream(context);
        var buffer = new ArrayBufferWriter<byte>(4096);
        var converter = new ChatChunksToMessagesStream(new SseFrameWriter(buffer), model, stops);
        var sseRestorer = restore is null ? null : new AnthropicSseRestorer(restore);
        var restored = restore is null ? null : new ArrayBufferWriter<byte>(4096);
        Task Emit() => sseRestorer is null ? FlushAsync(context, buffer) : RestoreAndFlushAsync(context, buffer, sseRestorer, restored!, complete: false);
        var done = false;
        try
        {
            await using var source = await response.Content.ReadAsStreamAsync(call.Token);
            using var reader = new SseReader(source);
            while (!done)
            {
                call.Arm();
                var evt = await reader.ReadAsync(call.Token);
                if (evt is null) break;
                var data = evt.Value.Data;
                if (data == "[DONE]")
                {
                    done = true;
                    break;
                }
                if (data.Length == 0) continue;
                JsonObject? chunk;
                try
                {
                    chunk = JsonNode.Parse(data) as JsonObject;
                }
                catch (JsonException)
                {
                    chunk = null;
                }
                if (chunk is null)
                {
                    converter.Fail(AnthropicErrorTypes.Api, "The upstream provider sent an invalid stream event.");
                    break;
                }
                if (chunk["error"] is JsonObject)
                {
                    LogUpstreamStreamError(logger, upstream.Name);
                    converter.Fail(AnthropicErrorTypes.Api, "The upstream provider failed while streaming.");
                    break;
                }
                converter.OnChunk(chunk);
                await Emit();
            }
            if (!converter.Finished)
            {
                if (done || converter.SawFinish) converter.Complete();
                else converter.Fail(AnthropicErrorTypes.Api, "The upstream stream ended before the answer was complete.");
            }
            if (sseRestorer is null) await FlushAsync(context, buffer);
            else await RestoreAndFlushAsync(context, buffer, sseRestorer, restored!, complete: true);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            if (context.RequestAborted.IsCancellationRequested) return;
            LogStreamBroken(logger, upstream.Name, call.TimedOut);
            converter.Fail(call.TimedOut ? AnthropicErrorTypes.Timeout : AnthropicErrorTypes.Api,
                call.TimedOut ? "The upstream provider stopped responding." : "The connection to the upstream provider was lost.");
            try { await (sseRestorer is null ? FlushAsync(context, buffer) : RestoreAndFlushAsync(context, buffer, sseRestorer, restored!, complete: true)); }
            catch (Exception e2) when (e2 is OperationCanceledException or IOException) { }
        }
        finally
        {
            usage.Value = FromOpenAi(converter.UpstreamUsage);
        }
    }

    private async Task<HttpResponseMessage?> SendAsync(HttpContext context, MessagesUpstream upstream, HttpRequestMessage request, UpstreamCall call)
    {
        var span = Telemetry.UpstreamSpans.Start(context, upstream, request);
        try
        {
            call.Arm();
            var sent = Stopwatch.GetTimestamp();
            try
            {
                return Telemetry.UpstreamSpans.Answered(span, await clients.For(upstream.BaseUrl).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, call.Token));
            }
            finally
            {
                if (context.Features.Get<GatewayRequestFeature>() is { } feature) feature.UpstreamTicks += Stopwatch.GetTimestamp() - sent;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            Telemetry.UpstreamSpans.Failed(span, call.TimedOut);
            if (context.RequestAborted.IsCancellationRequested) return null;
            LogSendFailed(logger, upstream.Name, call.TimedOut, e.GetType().Name);
            await WriteFailureAsync(context, upstream, call.TimedOut);
            return null;
        }
    }

    private static Task WriteFailureAsync(HttpContext context, MessagesUpstream upstream, bool timedOut) =>
        timedOut
            ? WriteErrorAsync(context, 504, AnthropicErrorTypes.Timeout, $"The upstream provider ({upstream.Name}) did not answer in time.")
            : WriteErrorAsync(context, 502, AnthropicErrorTypes.Api, $"The upstream provider ({upstream.Name}) could not be reached.");

    private async Task WriteUpstreamErrorAsync(HttpContext context, MessagesUpstream upstream, HttpResponseMessage response, UpstreamCall call)
    {
        var status = (int)response.StatusCode;
        string? upstreamMessage = null;
        try
        {
            await using var s = await response.Content.ReadAsStreamAsync(call.Token);
            var bytes = new byte[MaxErrorBody];
            var total = 0;
            int n;
            while (total < bytes.Length && (n = await s.ReadAsync(bytes.AsMemory(total), call.Token)) > 0) total += n;
            var node = JsonNode.Parse(bytes.AsSpan(0, total));
            upstreamMessage = J(node?["error"]?["message"]) ?? J(node?["message"]) ?? J(node?["detail"]);
        }
        catch (Exception e) when (e is JsonException or IOException or OperationCanceledException or HttpRequestException)
        {
        }
        LogUpstreamStatus(logger, upstream.Name, status);

        var (clientStatus, type) = AnthropicErrorMap.ForUpstreamStatus(status == 422 ? 400 : status);
        // Upstream 4xx messages describe the caller's request and help fix it; 5xx, 429 and auth messages can
        // name internal hosts or keys, so the client gets a generic text for those.
        var message = clientStatus switch
        {
            429 => "Rate limited by the upstream provider; retry later.",
            529 => "The upstream provider is overloaded; retry later.",
            504 => "The upstream provider timed out.",
            >= 500 => $"The upstream provider ({upstream.Name}) failed with HTTP {status}.",
            _ when !string.IsNullOrEmpty(upstreamMessage) => upstreamMessage,
            _ => $"The upstream provider rejected the request (HTTP {status}).",
        };
        if (response.Headers.RetryAfter is { } retryAfter) context.Response.Headers.RetryAfter = retryAfter.ToString();
        await WriteErrorAsync(context, clientStatus, type, message);
    }

    private static async Task RestoreAndFlushAsync(HttpContext context, ArrayBufferWriter<byte> frames, AnthropicSseRestorer restorer, ArrayBufferWriter<byte> output, bool complete)
    {
        if (frames.WrittenCount > 0)
        {
            await restorer.WriteAsync(frames.WrittenMemory, output, context.RequestAborted);
            frames.ResetWrittenCount();
        }
        if (complete) await restorer.CompleteAsync(output, context.RequestAborted);
        await FlushAsync(context, output);
    }

    private static void StartStream(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    private static async Task FlushAsync(HttpContext context, ArrayBufferWriter<byte> buffer)
    {
        if (buffer.WrittenCount == 0) return;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        buffer.ResetWrittenCount();
    }

    /// <summary>Writes an Anthropic error body, or an error event when the response has already started.</summary>
    internal static async Task WriteErrorAsync(HttpContext context, int status, string type, string message)
    {
        if (context.Response.HasStarted)
        {
            await WriteStreamErrorAsync(context, type, message);
            return;
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(AnthropicErrorMap.Body(type, message), context.RequestAborted);
    }

    private static async Task WriteStreamErrorAsync(HttpContext context, string type, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        new SseFrameWriter(buffer).Write("error", new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
        });
        try
        {
            await FlushAsync(context, buffer);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Masking failed on /v1/messages: {Reason}")]
    private static partial void LogMaskingFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Settling the admission of a /v1/messages request failed ({Error})")]
    private static partial void LogSettleFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} answered /v1/messages with HTTP {Status}")]
    private static partial void LogUpstreamStatus(ILogger logger, string upstream, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} unreachable for /v1/messages (timed out: {TimedOut}, {Error})")]
    private static partial void LogSendFailed(ILogger logger, string upstream, bool timedOut, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} stream broke during /v1/messages (timed out: {TimedOut})")]
    private static partial void LogStreamBroken(ILogger logger, string upstream, bool timedOut);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} returned a body that is not a chat.completion")]
    private static partial void LogBadUpstreamBody(ILogger logger, string upstream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} sent an error event mid-stream")]
    private static partial void LogUpstreamStreamError(ILogger logger, string upstream);
}

/// <summary>The cancellation of one upstream call: the client going away, or no progress within the timeout.</summary>
internal sealed class UpstreamCall : IDisposable
{
    private readonly CancellationTokenSource _timeout = new();
    private readonly CancellationTokenSource _linked;
    private readonly TimeSpan _limit;

    public UpstreamCall(CancellationToken aborted, TimeSpan limit)
    {
        _limit = limit;
        _linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, _timeout.Token);
    }

    public CancellationToken Token => _linked.Token;

    public bool TimedOut => _timeout.IsCancellationRequested;

    /// <summary>Restarts the idle timer (before sending, and before each stream read).</summary>
    public void Arm() => _timeout.CancelAfter(_limit);

    public void Dispose()
    {
        _linked.Dispose();
        _timeout.Dispose();
    }
}
