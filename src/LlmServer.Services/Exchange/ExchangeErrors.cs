namespace LlmServer.Services.Exchange;

/// <summary>
/// The catalogue: one entry per situation a request can end in short of its answer. Adapters never invent a code
/// or a status; they pick an entry here and the dialect writer shapes it.
/// </summary>
public static class ExchangeErrors
{
    /// <summary>Longest accepted conversation id (x-session-id, X-Claude-Code-Session-Id).</summary>
    public const int MaxSessionIdLength = 128;

    public static ExchangeError InvalidSessionId(string header) =>
        new("invalid_session_id", 400, $"The {header} header must be 1 to {MaxSessionIdLength} printable characters.") { Param = header };

    /// <summary>No key, or a key this server does not know.</summary>
    public static ExchangeError InvalidApiKey(bool missing) => new("invalid_api_key", 401, missing
        ? "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
        : "Incorrect API key provided.");

    public static ExchangeError PayloadTooLarge(long maxBytes) =>
        new("payload_too_large", 413, $"The request body exceeds the limit of {maxBytes} bytes.") { Args = [maxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)] };

    /// <summary>The request itself is wrong; <paramref name="message"/> says how (it names fields, never echoes values).</summary>
    public static ExchangeError InvalidRequest(string message, string? param = null, string code = "invalid_request") =>
        new(code, 400, message) { Param = param };

    public static ExchangeError NoUpstreamConfigured { get; } = new("no_upstream_configured", 503,
        "No upstream is configured: set OPENAI_API_KEY, VLLM_BASE_URL or ANTHROPIC_API_KEY, or LlmServer:Gateway:Upstreams.");

    public static ExchangeError ModelNotFound(string model) =>
        new("model_not_found", 404, $"The model `{model}` does not exist. Use a model listed by GET /v1/models.") { Param = "model", Args = [model] };

    public static ExchangeError ModelNotSupported(string model, string message) =>
        new("model_not_supported", 400, message) { Param = "model", Args = [model] };

    public static ExchangeError ModelNotAllowed(string model) =>
        new("model_not_allowed", 403, $"This key may not use model '{model}'.") { Param = "model", Args = [model] };

    /// <summary>The caller's key (rpm, tpm) or the server's concurrency limit.</summary>
    public static ExchangeError RateLimited(long retryAfterSeconds, string? message = null) =>
        new("rate_limit_exceeded", 429, message ?? $"Rate limit reached for this key; retry after {Math.Max(1, retryAfterSeconds)} s.")
        {
            RetryAfterSeconds = Math.Max(1, retryAfterSeconds),
            Args = [Math.Max(1, retryAfterSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)],
        };

    /// <summary>The key's budget is spent; <paramref name="retryAfterSeconds"/> is when its period starts again (null: a total budget, which never resets).</summary>
    public static ExchangeError BudgetExceeded(string? message, long? retryAfterSeconds) =>
        new("budget_exceeded", 429, message ?? "The budget of this key is exhausted.")
        {
            RetryAfterSeconds = retryAfterSeconds,
            OpenAiType = "insufficient_quota",
            Args = [message ?? ""],
        };

    public static ExchangeError AdmissionUnavailable { get; } = new("admission_unavailable", 503,
        "Limits and budgets cannot be checked right now, so the request was not sent. Please try again shortly.");

    public static ExchangeError MaskingUnavailable { get; } = new("masking_unavailable", 503,
        "Sensitive-data masking is unavailable, so the request was not sent upstream. Please try again shortly.");

    /// <summary>The answer came back but its masked values could not be put back; it is withheld rather than sent with placeholders.</summary>
    public static ExchangeError RestoreUnavailable { get; } = new("masking_unavailable", 503,
        "The masked values of this answer could not be restored, so it was withheld. Please try again shortly.");

    public static ExchangeError SensitiveDataBlocked(IEnumerable<string> types)
    {
        var list = string.Join(", ", types);
        return new("sensitive_data_blocked", 400, $"The request contains sensitive data and the masking policy is 'block'. Types found: {list}") { Args = [list] };
    }

    public static ExchangeError StoreUnavailable { get; } = new("store_unavailable", 503,
        "Stored conversations cannot be read or written right now, so the request was not sent. Please try again shortly.");

    public static ExchangeError PreviousResponseNotFound(string id) =>
        new("previous_response_not_found", 400, $"Previous response with id '{id}' not found.") { Param = "previous_response_id" };

    public static ExchangeError ResponseNotFound(string id) =>
        new("response_not_found", 404, $"No response found with id '{id}'.") { Args = [id] };

    public static ExchangeError UpstreamTimeout { get; } = new("upstream_timeout", 504, "The upstream did not answer in time.");

    /// <summary>The upstream's own rate limit, after the retries; its Retry-After is passed on.</summary>
    public static ExchangeError UpstreamRateLimited(string model, long? retryAfterSeconds) =>
        new("upstream_rate_limited", 429, $"Rate limit reached for `{model}` at the upstream. Please try again later.") { RetryAfterSeconds = retryAfterSeconds };

    public static ExchangeError UpstreamFailed(int upstreamStatus) =>
        new("upstream_error", 502, $"The upstream failed to answer (status {upstreamStatus}).");

    public static ExchangeError UpstreamUnreachable { get; } = new("upstream_unreachable", 502, "The upstream could not be reached.");

    /// <summary>Every deployment of the model has its circuit open; it is tried again after the break.</summary>
    public static ExchangeError UpstreamUnavailable(string model, long retryAfterSeconds) =>
        new("upstream_unavailable", 503, $"The model `{model}` is temporarily unavailable. Please try again shortly.")
        {
            RetryAfterSeconds = Math.Max(1, retryAfterSeconds),
            AnthropicType = "overloaded_error",
        };

    public static ExchangeError UpstreamInvalidResponse { get; } = new("upstream_invalid_response", 502, "The upstream returned an invalid response.");

    /// <summary>The upstream's answer broke off (connection lost, or the stream ended without its final event).</summary>
    public static ExchangeError UpstreamDisconnected { get; } = new("upstream_disconnected", 502, "The upstream connection broke before the answer was complete.");

    /// <summary>The upstream sent an error in place of the rest of a streamed answer.</summary>
    public static ExchangeError UpstreamStreamFailed { get; } = new("upstream_error", 502, "The upstream failed while streaming the answer.");

    /// <summary>The answer stopped arriving mid-way (idle or total timeout while streaming).</summary>
    public static ExchangeError UpstreamStalled { get; } = new("upstream_timeout", 504, "The upstream stopped sending before the answer was complete.");

    /// <summary>
    /// The upstream refused the request as the client's fault (4xx) where its body cannot be relayed as is (a
    /// translated exchange): its status, and its message, which describes the caller's own request.
    /// </summary>
    public static ExchangeError UpstreamRejected(int upstreamStatus, string? upstreamMessage) =>
        new("upstream_rejected", upstreamStatus is 422 or < 400 or >= 500 ? 400 : upstreamStatus,
            string.IsNullOrEmpty(upstreamMessage) ? $"The upstream rejected the request (status {upstreamStatus})." : upstreamMessage)
        { Args = [upstreamMessage ?? upstreamStatus.ToString(System.Globalization.CultureInfo.InvariantCulture)] };

    /// <summary>The provider refused the caller's own key (the session API's own-key mode).</summary>
    public static ExchangeError InvalidUserApiKey(string provider) =>
        new("invalid_user_api_key", 401, $"{provider} rejected the API key sent in openai_api_key.") { Param = "openai_api_key" };

    /// <summary>The provider refused the server's own key: the operator's to fix, named by its setting.</summary>
    public static ExchangeError UpstreamAuthFailed(string keySetting) =>
        new("upstream_auth_failed", 502, $"The upstream rejected the server's API key ({keySetting}).") { Args = [keySetting] };

    /// <summary>The upstream accepted the request but reported that producing the answer failed (a failed or error event).</summary>
    public static ExchangeError UpstreamAnswerFailed { get; } = new("upstream_error", 502, "The upstream failed to produce the answer.");

    /// <summary>The ledger code of a request whose client went away before the answer was complete (status 499).</summary>
    public const string ClientDisconnected = "client_disconnected";

    /// <summary>Ledger status of a request whose client went away.</summary>
    public const int ClientClosedStatus = 499;
}
