namespace LlmServer.Services.Errors;

/// <summary>What went wrong, independent of HTTP; the host maps each kind to one status code.</summary>
public enum ErrorKind
{
    /// <summary>The client sent something invalid (400).</summary>
    Validation,
    /// <summary>A required server setting is missing (503).</summary>
    ConfigurationMissing,
    /// <summary>The caller's own provider key was rejected upstream (401).</summary>
    Unauthorized,
    /// <summary>The upstream rate-limited the call (429, Retry-After).</summary>
    RateLimited,
    /// <summary>The upstream could not be reached or answered with a server error (502).</summary>
    Unreachable,
    /// <summary>The upstream did not answer in time (504).</summary>
    Timeout,
    /// <summary>The thing asked for does not exist (404).</summary>
    NotFound,
    /// <summary>The caller may not do this (403), e.g. a virtual key calling a model it is not allowed.</summary>
    Forbidden,
    /// <summary>A server component the request needs is unavailable (503), e.g. the masking vault.</summary>
    Unavailable,
}

/// <summary>
/// A failure the API reports to its caller. <see cref="Code"/> selects the localized message in the host;
/// <see cref="Exception.Message"/> is the English fallback. Never put secrets in either.
/// </summary>
public class LlmServerException(ErrorKind kind, string code, string message, params string[] args) : Exception(message)
{
    /// <summary>The kind, which decides the status code.</summary>
    public ErrorKind Kind { get; } = kind;

    /// <summary>Stable machine-readable code, e.g. "config_missing".</summary>
    public string Code { get; } = code;

    /// <summary>Values inserted into the localized message ({0}, {1} ...).</summary>
    public IReadOnlyList<string> Args { get; } = args;

    /// <summary>For <see cref="ErrorKind.RateLimited"/>: the upstream's Retry-After value, when it sent one.</summary>
    public string? RetryAfter { get; init; }

    /// <summary>The HTTP status when the catalogue gives one (else the kind decides).</summary>
    public int? Status { get; init; }

    /// <summary>The HTTP status of this failure: the catalogue's, else the one its kind stands for.</summary>
    public int StatusCode => Status ?? StatusOf(Kind);

    /// <summary>The HTTP status an error kind stands for.</summary>
    public static int StatusOf(ErrorKind kind) => kind switch
    {
        ErrorKind.Validation => 400,
        ErrorKind.Unauthorized => 401,
        ErrorKind.Forbidden => 403,
        ErrorKind.NotFound => 404,
        ErrorKind.RateLimited => 429,
        ErrorKind.Unreachable => 502,
        ErrorKind.ConfigurationMissing or ErrorKind.Unavailable => 503,
        ErrorKind.Timeout => 504,
        _ => 500,
    };

    /// <summary>A catalogue entry (<see cref="Exchange.ExchangeErrors"/>) raised on the session API: same code, status and Retry-After as on the other APIs.</summary>
    public static LlmServerException From(Exchange.ExchangeError error) =>
        new(KindOf(error.Status), error.Code, error.Message, [.. error.Args])
        {
            Status = error.Status,
            RetryAfter = error.RetryAfterSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

    private static ErrorKind KindOf(int status) => status switch
    {
        401 => ErrorKind.Unauthorized,
        403 => ErrorKind.Forbidden,
        404 => ErrorKind.NotFound,
        429 => ErrorKind.RateLimited,
        502 => ErrorKind.Unreachable,
        503 => ErrorKind.Unavailable,
        504 => ErrorKind.Timeout,
        _ => ErrorKind.Validation,
    };
}
