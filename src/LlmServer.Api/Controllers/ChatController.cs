using LlmServer.Api.Dialects;
using LlmServer.Api.Pipeline;
using System.Text;
using System.Text.Json;
using LlmServer.Api.Errors;
using LlmServer.Services.Auth;
using LlmServer.Services.Masking;
using LlmServer.Dto.Chat;
using LlmServer.Services.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace LlmServer.Api.Controllers;

/// <summary>Session chat API: chat (plain, streamed, background), session history.</summary>
[ApiController]
[Route("api/v1/chat")]
[Produces("application/json")]
public sealed partial class ChatController(IChatService chat, IOptions<JsonOptions> json, ILogger<ChatController> logger) : ControllerBase
{
    /// <summary>Chat with the model. With stream=true the answer is server-sent events (see POST /api/v1/chat/stream).</summary>
    /// <remarks>
    /// Seed README request, works verbatim:
    ///
    ///     {"request_id":"unique_session_id","user_prompt":"Python의 특징을 설명해주세요.","system_prompt":"당신은 친절한 프로그래밍 튜터입니다.","max_tokens":1000,"temperature":0.7,"model":"gpt-4o-mini"}
    ///
    /// Key selection: use_user_api_key=true uses openai_api_key (400 when missing); free_mode=true uses openai_api_key when
    /// given, else the server's key; otherwise the server's key (OPENAI_API_KEY, 503 when not configured).
    /// </remarks>
    /// <response code="200">The answer, with tokens, cost and api_key_source (for background=true: response_id and status queued).</response>
    /// <response code="400">Invalid request, malformed JSON, or a session id that is not 1..128 printable ASCII characters (invalid_session_id).</response>
    /// <response code="401">OpenAI rejected the caller's own key.</response>
    /// <response code="404">A model the gateway does not route (model_not_found; GET /v1/models lists the ones it does).</response>
    /// <response code="413">Body larger than LlmServer:Limits:MaxRequestBodyBytes.</response>
    /// <response code="429">The key's rate limit (rate_limit_exceeded) or budget (budget_exceeded), or the upstream's (upstream_rate_limited); Retry-After when waiting helps.</response>
    /// <response code="502">Upstream failed after the retries, unreachable, or answered garbage.</response>
    /// <response code="503">No usable key (OPENAI_API_KEY not configured), masking or limits unavailable, or every circuit open (Retry-After).</response>
    /// <response code="504">Upstream timeout.</response>
    [HttpPost]
    [ProducesResponseType<ChatResponse>(StatusCodes.Status200OK)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status400BadRequest)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status401Unauthorized)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status404NotFound)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status413PayloadTooLarge)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status429TooManyRequests)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status502BadGateway)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status503ServiceUnavailable)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status504GatewayTimeout)]
    public async Task<IActionResult> ChatAsync([FromBody] ChatRequest request)
    {
        request = WithHeaderSession(request);
        if (request.Stream)
        {
            await StreamCoreAsync(request);
            return new EmptyResult();
        }
        var caller = Caller();
        var response = await chat.ChatAsync(request, caller, RequestLanguage.Resolve(HttpContext), HttpContext.RequestAborted);
        SetMaskedHeader(caller);
        return Ok(response);
    }

    /// <summary>
    /// The x-session-id header every API reads, under the exchange core's rule (400 invalid_session_id, never
    /// dropped); it names the session when the body does not (the body's session_id wins).
    /// </summary>
    private ChatRequest WithHeaderSession(ChatRequest request)
    {
        if (ExchangeSteps.CheckSessionId(Request.Headers[SessionHeader].ToString(), SessionHeader, out var sessionId) is { } bad)
        {
            RejectedRequestLedger.Record(HttpContext, bad.Status, bad.Code);
            throw LlmServerException.From(bad);
        }
        return sessionId is not null && request.EffectiveSessionId is null ? request with { SessionId = sessionId } : request;
    }

    private const string SessionHeader = "x-session-id";

    /// <summary>The authenticated caller (virtual key, ledger key id) as the chat service needs it.</summary>
    private ChatCaller Caller()
    {
        var feature = HttpContext.Features.Get<GatewayRequestFeature>();
        var identity = feature?.Caller ?? CallerIdentity.Anonymous;
        return new ChatCaller(identity.VirtualKey, identity.LedgerKeyId) { Started = feature?.Start };
    }

    private void SetMaskedHeader(ChatCaller caller)
    {
        if (caller.MaskedSummary is { Length: > 0 } summary) HttpContext.Response.Headers[MaskingSummary.HeaderName] = summary;
    }

    /// <summary>Chat answered as server-sent events.</summary>
    /// <remarks>
    /// Events: `event: delta` with data {"delta":"text"} for each piece, then `event: done` with the same summary as
    /// POST /api/v1/chat. A failure after the stream started ends it with `event: error` and the error body.
    /// The turn is stored only once the stream completed; a client that disconnects cancels the upstream call.
    /// </remarks>
    /// <response code="200">text/event-stream.</response>
    /// <response code="404">A model the gateway does not route (model_not_found), before the stream starts.</response>
    [HttpPost("stream")]
    [Produces("text/event-stream", "application/json")]
    [ProducesResponseType(StatusCodes.Status200OK)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status400BadRequest)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status404NotFound)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status503ServiceUnavailable)]
    public async Task<IActionResult> StreamAsync([FromBody] ChatRequest request)
    {
        await StreamCoreAsync(WithHeaderSession(request));
        return new EmptyResult();
    }

    /// <summary>The stored history of one of the caller's sessions, oldest first.</summary>
    /// <remarks>A session id names a session inside the caller's own space: another key's session of the same name is not visible (404).</remarks>
    /// <response code="200">The messages.</response>
    /// <response code="404">The caller has no stored history under this session id.</response>
    [HttpGet("sessions/{sessionId}")]
    [ProducesResponseType<SessionHistoryResponse>(StatusCodes.Status200OK)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status404NotFound)]
    public async Task<IActionResult> GetSessionAsync(string sessionId)
    {
        var turns = await chat.GetHistoryAsync(sessionId, Caller(), HttpContext.RequestAborted);
        if (turns.Count == 0)
        {
            throw SessionNotFound(sessionId);
        }
        return Ok(new SessionHistoryResponse
        {
            SessionId = sessionId,
            Messages = turns.Select(t => new StoredMessage { Role = t.Role, Content = t.Content, CreatedAt = t.CreatedAt }).ToList(),
        });
    }

    /// <summary>Deletes the stored history of one of the caller's sessions.</summary>
    /// <response code="200">Deleted.</response>
    /// <response code="404">The caller has no stored history under this session id.</response>
    [HttpDelete("sessions/{sessionId}")]
    [ProducesResponseType(StatusCodes.Status200OK)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status404NotFound)]
    public async Task<IActionResult> DeleteSessionAsync(string sessionId)
    {
        if (!await chat.DeleteHistoryAsync(sessionId, Caller(), HttpContext.RequestAborted))
        {
            throw SessionNotFound(sessionId);
        }
        return Ok(new { success = true, session_id = sessionId, deleted = true });
    }

    /// <summary>Polls a background response started with background=true.</summary>
    /// <param name="responseId">The response_id returned when it was started.</param>
    /// <param name="userApiKey">When the response was started with the caller's own key, the same key (header X-OpenAI-Api-Key).</param>
    /// <response code="200">The response: status queued / in_progress, or completed with output_text and tokens.</response>
    /// <response code="404">No response with this id was started by the caller.</response>
    [HttpGet("responses/{responseId}")]
    [ProducesResponseType<ChatResponse>(StatusCodes.Status200OK)]
    [ProducesResponseType<ApiErrorResponse>(StatusCodes.Status404NotFound)]
    public async Task<IActionResult> GetResponseAsync(string responseId, [FromHeader(Name = "X-OpenAI-Api-Key")] string? userApiKey)
    {
        var key = string.IsNullOrWhiteSpace(userApiKey) ? null : userApiKey.Trim();
        return Ok(await chat.GetBackgroundAsync(responseId, key, Caller(), HttpContext.RequestAborted));
    }

    private static LlmServerException SessionNotFound(string sessionId) =>
        new(ErrorKind.NotFound, "session_not_found", $"Session '{sessionId}' has no stored history.", sessionId);

    private async Task StreamCoreAsync(ChatRequest request)
    {
        var aborted = HttpContext.RequestAborted;
        var caller = Caller();
        var items = chat.StreamAsync(request, caller, RequestLanguage.Resolve(HttpContext), aborted).GetAsyncEnumerator(aborted);
        await using (items)
        {
            // NOTE: pull the first item before answering, so failures before any output (503, 401, 429 ...) keep their status code.
            var hasItem = await items.MoveNextAsync();
            SetMaskedHeader(caller);
            var response = HttpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "text/event-stream; charset=utf-8";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            try
            {
                while (hasItem)
                {
                    var item = items.Current;
                    if (item.Final is { } final)
                    {
                        await WriteEventAsync("done", JsonSerializer.Serialize(final, json.Value.JsonSerializerOptions), aborted);
                    }
                    else
                    {
                        await WriteEventAsync("delta", JsonSerializer.Serialize(new { delta = item.Delta }, json.Value.JsonSerializerOptions), aborted);
                    }
                    hasItem = await items.MoveNextAsync();
                }
            }
            catch (LlmServerException ex)
            {
                var error = DialectErrorWriter.Of(ex);
                Log.StreamFailed(logger, error.Status, error.Code);
                await DialectErrorWriter.WriteAsync(HttpContext, Dialect.Session, error, DialectErrorWriter.Localize(HttpContext, error));
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                Log.ClientDisconnected(logger);
            }
        }
    }

    private async Task WriteEventAsync(string name, string data, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes($"event: {name}\ndata: {data}\n\n");
        await HttpContext.Response.Body.WriteAsync(bytes, cancellationToken);
        await HttpContext.Response.Body.FlushAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2301, Level = LogLevel.Warning, Message = "Chat stream ended with error {Status} {Code}")]
        public static partial void StreamFailed(ILogger logger, int status, string code);

        [LoggerMessage(EventId = 2302, Level = LogLevel.Information, Message = "Client disconnected during a chat stream; upstream call cancelled")]
        public static partial void ClientDisconnected(ILogger logger);
    }
}
