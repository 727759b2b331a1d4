namespace LlmServer.Services.Exchange;

/// <summary>
/// Why a request was not answered as asked, independent of the API it came in on. Every API surface answers the
/// same situation with the same <see cref="Code"/>, <see cref="Status"/> and Retry-After; only the body shape
/// (OpenAI, Anthropic, session API) differs, and the ledger row carries the same code.
/// </summary>
/// <param name="Code">Stable machine-readable code (OpenAI's <c>error.code</c>, the session API's <c>error.code</c>, the ledger's error code).</param>
/// <param name="Status">HTTP status on every API.</param>
/// <param name="Message">English text, safe to show: never a key, an internal address or what the caller sent.</param>
public sealed record ExchangeError(string Code, int Status, string Message)
{
    /// <summary>The request field the error is about (OpenAI's <c>error.param</c>), or null.</summary>
    public string? Param { get; init; }

    /// <summary>Seconds the caller should wait before trying again (the Retry-After header), or null when waiting does not help.</summary>
    public long? RetryAfterSeconds { get; init; }

    /// <summary>Values for the localized message of <see cref="Code"/> on the session API ({0}, {1} ...).</summary>
    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>OpenAI's <c>error.type</c>: what the OpenAI API itself says in this situation.</summary>
    public string OpenAiType { get; init; } = Status switch
    {
        429 => "requests",
        >= 400 and < 500 => "invalid_request_error",
        _ => "server_error",
    };

    /// <summary>Anthropic's <c>error.type</c>.</summary>
    public string AnthropicType { get; init; } = Status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        >= 400 and < 500 => "invalid_request_error",
        _ => "api_error",
    };

    /// <summary>A client error (4xx): the caller's request or its limits, not the server or the upstream.</summary>
    public bool IsClientError => Status is >= 400 and < 500;
}
