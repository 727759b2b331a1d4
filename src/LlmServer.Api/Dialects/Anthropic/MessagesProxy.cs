using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Api.Dialects;
using LlmServer.Api.Pipeline;
using LlmServer.Dto.Anthropic;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Auth;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using LlmServer.Services.Routing;
using LlmServer.Services.Tokens;
using LlmServer.Services.Transport;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LlmServer.Api.Dialects.Anthropic;

/// <summary>
/// The /v1/messages (+ count_tokens) adapter over the exchange core: parses Anthropic's request, runs the shared
/// steps (session id, admission, masking, ledger row, settlement), and sends the request through the one transport
/// to the model's deployments: passed through to an <c>anthropic</c> upstream, or translated to chat.completions
/// for any OpenAI-style one. Every refusal is a catalogue entry written in Anthropic's dialect.
/// </summary>
public sealed partial class MessagesProxy(
    IModelRouter router,
    IUpstreamForwarder forwarder,
    ExchangeSteps steps,
    ITokenCounter tokens,
    IOptionsMonitor<ProviderEndpointOptions> providers,
    ILogger<MessagesProxy> logger)
{
    private const string SessionHeader = "x-session-id";

    /// <summary>The id Claude Code sends with every request of a session.</summary>
    private const string ClaudeCodeSessionHeader = "X-Claude-Code-Session-Id";

    /// <summary>POST /v1/messages.</summary>
    public async Task MessagesAsync(HttpContext context)
    {
        var feature = context.Features.Get<GatewayRequestFeature>();
        var caller = feature?.Caller ?? CallerIdentity.Anonymous;
        var x = new ExchangeState(ExchangeSurface.Messages, caller.VirtualKey, caller.LedgerKeyId, feature?.Start ?? Stopwatch.GetTimestamp())
        {
            Overhead = feature is null ? null : () => feature.OverheadMs,
        };
        var outcome = new MessagesOutcome();
        try
        {
            outcome.Error = CheckSessionId(context, x);
            if (outcome.Error is not null) return;
            var (request, error) = await ReadRequestAsync(context, requireMaxTokens: true);
            outcome.Error = error;
            if (request is null) return;
            x.Model = request.Model;
            x.Stream = request.Stream;
            if (!TryRoute(request.Model, out var route, out outcome.Error)) return;

            var maxTokens = request.Body["max_tokens"] is JsonValue mv && mv.TryGetValue<long>(out var m) ? m : (long?)null;
            outcome.Error = await steps.AdmitAsync(x, tokens.For(x.VirtualKey, route.At(0).UpstreamModel, request.Raw), maxTokens, context.RequestAborted);
            if (outcome.Error is not null) return;

            var masking = steps.BeginMasking(x, MaskingRoute.Messages);
            outcome.Error = await MaskAsync(context, masking, request.Body);
            if (outcome.Error is not null) return;
            var restore = masking.RestoresResponses && masking.Summary.Total > 0 ? masking : null;

            var upstreamStart = Stopwatch.GetTimestamp();
            try
            {
                if (route.At(0).Kind == UpstreamKinds.Anthropic) await PassThroughAsync(context, x, route, request, masking.Summary.Total > 0, restore, outcome);
                else await TranslateAsync(context, x, route, request, restore, outcome);
            }
            finally
            {
                // NOTE: the whole exchange with the upstream (streamed body included) is upstream time, not gateway overhead.
                if (feature is not null) feature.UpstreamTicks += Stopwatch.GetTimestamp() - upstreamStart;
            }
        }
        catch (MaskingFailedException e) when (!context.RequestAborted.IsCancellationRequested)
        {
            // NOTE: restoring the answer failed (vault gone mid-request); never send placeholders silently as if restored.
            outcome.Error = steps.MaskingError(e, restoring: true);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            outcome.ClientGone = true;
        }
        finally
        {
            await FinishAsync(context, x, outcome);
        }
    }

    /// <summary>Writes the error (when the answer was not given), the one ledger row, and settles the admission.</summary>
    private async Task FinishAsync(HttpContext context, ExchangeState x, MessagesOutcome outcome)
    {
        if (outcome.ClientGone || context.RequestAborted.IsCancellationRequested)
        {
            steps.Record(x, ExchangeErrors.ClientClosedStatus, ExchangeErrors.ClientDisconnected);
        }
        else if (outcome.Error is { } error)
        {
            if (!outcome.ErrorWritten) await DialectErrorWriter.WriteAsync(context, Dialect.Anthropic, error);
            steps.Record(x, error);
        }
        else
        {
            steps.Record(x, context.Response.StatusCode, outcome.RelayedCode);
        }
        await steps.SettleAsync(x, succeeded: outcome.Error is null && outcome.RelayedCode is null && !outcome.ClientGone
            && !context.RequestAborted.IsCancellationRequested && context.Response.StatusCode < 400);
    }

    /// <summary>
    /// The conversation a request belongs to: x-session-id, else the id Claude Code sends with every request of a
    /// session, so the ledger groups an agent's turns and its masked values keep their placeholders across them.
    /// </summary>
    private static ExchangeError? CheckSessionId(HttpContext context, ExchangeState x)
    {
        var header = SessionHeader;
        var value = context.Request.Headers[SessionHeader].ToString();
        if (value.Length == 0)
        {
            header = ClaudeCodeSessionHeader;
            value = context.Request.Headers[ClaudeCodeSessionHeader].ToString();
        }
        var error = ExchangeSteps.CheckSessionId(value, header, out var sessionId);
        x.SessionId = sessionId;
        return error;
    }

    private bool TryRoute(string model, out ModelRoute route, out ExchangeError? error)
    {
        if (router.TryResolve(model, out route))
        {
            error = null;
            return true;
        }
        error = router.Upstreams.Count == 0 ? ExchangeErrors.NoUpstreamConfigured : ExchangeErrors.ModelNotFound(model);
        return false;
    }

    private async Task<ExchangeError?> MaskAsync(HttpContext context, MaskingSession masking, JsonObject body)
    {
        try
        {
            var counts = await masking.MaskJsonBodyAsync(body, context.RequestAborted);
            if (counts.Count > 0) context.Response.Headers[MaskingSummary.HeaderName] = masking.Summary.ToHeaderValue();
            return null;
        }
        catch (Exception e) when (steps.MaskingError(e) is { } error)
        {
            return error;
        }
    }

    /// <summary>POST /v1/messages/count_tokens: exact from an Anthropic upstream, else the server's token counter for the upstream model (see <see cref="ITokenCounter"/>).</summary>
    public async Task CountTokensAsync(HttpContext context)
    {
        var caller = context.Features.Get<GatewayRequestFeature>()?.Caller ?? CallerIdentity.Anonymous;
        var x = new ExchangeState(ExchangeSurface.Messages, caller.VirtualKey, caller.LedgerKeyId, Stopwatch.GetTimestamp());
        var error = CheckSessionId(context, x);
        var (request, readError) = error is null ? await ReadRequestAsync(context, requireMaxTokens: false) : (null, null);
        error ??= readError;
        if (request is null)
        {
            if (error is not null) await DialectErrorWriter.WriteAsync(context, Dialect.Anthropic, error);
            return;
        }
        var routed = router.TryResolve(request.Model, out var route);
        if (routed && route.At(0).Kind == UpstreamKinds.Anthropic)
        {
            // NOTE: counting sends the prompt upstream too, so it is masked like the request itself.
            var masking = steps.BeginMasking(x, MaskingRoute.Messages);
            error = await MaskAsync(context, masking, request.Body);
            if (error is null) error = await CountUpstreamAsync(context, route, request, masking.Summary.Total > 0);
            if (error is not null && !context.RequestAborted.IsCancellationRequested) await DialectErrorWriter.WriteAsync(context, Dialect.Anthropic, error);
            return;
        }
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        var result = new AnthropicCountTokensResponse { InputTokens = tokens.CountRequest(routed ? route.At(0).UpstreamModel : request.Model, request.Raw) };
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(result, AnthropicJsonContext.Default.AnthropicCountTokensResponse), context.RequestAborted);
    }

    /// <summary>A parsed, validated /v1/messages body.</summary>
    private sealed record MessagesRequest(JsonObject Body, byte[] Raw, string Model, bool Stream)
    {
        /// <summary>Stop sequences, for the translated answer's stop_sequence.</summary>
        public JsonArray? StopSequences => Body["stop_sequences"] as JsonArray;
    }

    /// <summary>How the request ended, for the ledger row and the settlement.</summary>
    private sealed class MessagesOutcome
    {
        /// <summary>The catalogue entry the request ended with (written as the body, or the stream's error event).</summary>
        public ExchangeError? Error;

        /// <summary>True when the stream already ends with the error's event (the translator's, or the upstream's own).</summary>
        public bool ErrorWritten;

        /// <summary>The ledger code of an upstream answer relayed as is that is not a success (a passthrough 4xx).</summary>
        public string? RelayedCode;

        /// <summary>The client went away.</summary>
        public bool ClientGone;
    }

    private static async Task<(MessagesRequest? Request, ExchangeError? Error)> ReadRequestAsync(HttpContext context, bool requireMaxTokens)
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
            return (null, ExchangeErrors.PayloadTooLarge(context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0));
        }
        if (LlmServer.Dto.JsonBodyCheck.Validate(raw) is { } unreadable) return (null, ExchangeErrors.InvalidRequest(unreadable.Message));
        JsonNode? node;
        try
        {
            node = raw.Length == 0 ? null : JsonNode.Parse(raw, documentOptions: LlmServer.Dto.JsonLimits.Document);
        }
        catch (JsonException e)
        {
            return (null, ExchangeErrors.InvalidRequest($"The request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})."));
        }
        var checks = context.RequestServices.GetRequiredService<FluentValidation.IValidator<MessagesRequestBody>>()
            .Validate(new MessagesRequestBody(node, CountTokens: !requireMaxTokens));
        if (!checks.IsValid) return (null, ExchangeErrors.InvalidRequest(checks.Errors[0].ErrorMessage));
        var body = (JsonObject)node!;
        // NOTE: the kinds of the other fields, so a value of the wrong kind is a 400 naming it on every path, passthrough included.
        if (RequestShapes.CheckMessages(body) is { } shape) return (null, ExchangeErrors.InvalidRequest(shape));
        var model = body["model"] is JsonValue mv && mv.TryGetValue<string>(out var s) ? s : "";
        var stream = body["stream"] is JsonValue sv && sv.TryGetValue<bool>(out var b) && b;
        return (new MessagesRequest(body, raw, model, stream), null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} answered /v1/messages with HTTP {Status}")]
    private static partial void LogUpstreamStatus(ILogger logger, string upstream, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} stream broke during /v1/messages ({Code})")]
    private static partial void LogStreamBroken(ILogger logger, string upstream, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Upstream} returned a body that is not a complete answer")]
    private static partial void LogBadUpstreamBody(ILogger logger, string upstream);
}
