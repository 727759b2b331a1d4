// NOTE: the SDK marks the Responses client experimental (OPENAI001); this file is the one place that uses it.
#pragma warning disable OPENAI001
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LlmServer.Services.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Logging;
using OpenAI.Responses;

namespace LlmServer.External.OpenAi;

/// <summary>
/// The Responses API over the official OpenAI SDK, against OpenAI or an Azure OpenAI resource (see
/// <see cref="ResponsesTarget"/>). One shared client for the server's key; callers' keys get a per-request client,
/// and every client shares one HTTP transport (one SocketsHttpHandler connection pool).
/// </summary>
internal sealed partial class OpenAiResponsesUpstream : IResponsesUpstream, IDisposable
{
    private readonly ResponsesTarget _target;
    private readonly HttpClient _http;
    private readonly HttpClientPipelineTransport _transport;
    private readonly Lazy<ResponsesClient> _serverClient;
    private readonly ILogger<OpenAiResponsesUpstream> _logger;

    public OpenAiResponsesUpstream(ResponsesTarget target, ILogger<OpenAiResponsesUpstream> logger)
    {
        _target = target;
        _logger = logger;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        // NOTE: the pipeline enforces NetworkTimeout; HttpClient's own timeout would race it with a different error.
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _transport = new HttpClientPipelineTransport(_http);
        _serverClient = new Lazy<ResponsesClient>(() => CreateClient(_target.ServerKey));
    }

    /// <inheritdoc />
    public bool HasServerKey => !string.IsNullOrWhiteSpace(_target.ServerKey);

    /// <inheritdoc />
    public string Name => _target.Name;

    /// <inheritdoc />
    public async Task<UpstreamResult> CreateAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        var client = ClientFor(request.UserApiKey);
        try
        {
            ClientResult<ResponseResult> result = await client.CreateResponseAsync(ToOptions(request, stream: false, _target), cancellationToken);
            return Map(result.Value);
        }
        catch (Exception ex) when (Translate(ex, request.UserApiKey is not null, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<UpstreamStreamEvent> StreamAsync(UpstreamRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var client = ClientFor(request.UserApiKey);
        var userKey = request.UserApiKey is not null;
        IAsyncEnumerator<StreamingResponseUpdate> updates;
        AsyncStreamingResult<StreamingResponseUpdate> streaming;
        try
        {
            streaming = await client.CreateResponseStreamingAsync(ToOptions(request, stream: true, _target), cancellationToken);
            updates = ((IAsyncEnumerable<StreamingResponseUpdate>)streaming).GetAsyncEnumerator(cancellationToken);
        }
        catch (Exception ex) when (Translate(ex, userKey, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
        await using (streaming)
        await using (updates)
        {
            while (true)
            {
                StreamingResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        yield break;
                    }
                    update = updates.Current;
                }
                catch (Exception ex) when (Translate(ex, userKey, cancellationToken) is { } mapped)
                {
                    throw mapped;
                }
                switch (update)
                {
                    case StreamingResponseOutputTextDeltaUpdate delta:
                        yield return new UpstreamStreamEvent(delta.Delta, null);
                        break;
                    case StreamingResponseCompletedUpdate done:
                        yield return new UpstreamStreamEvent(null, Map(done.Response));
                        yield break;
                    case StreamingResponseIncompleteUpdate incomplete:
                        yield return new UpstreamStreamEvent(null, Map(incomplete.Response));
                        yield break;
                    case StreamingResponseFailedUpdate failed:
                        throw new LlmServerException(ErrorKind.Unreachable, "upstream_error",
                            "The upstream failed to produce a response: " + (failed.Response?.Error?.Message ?? "unknown error"));
                    case StreamingResponseErrorUpdate error:
                        throw new LlmServerException(ErrorKind.Unreachable, "upstream_error",
                            "The upstream reported an error: " + (error.Message ?? error.Code ?? "unknown error"));
                }
            }
        }
    }

    /// <inheritdoc />
    public async Task<UpstreamResult> GetAsync(string responseId, string? userApiKey, CancellationToken cancellationToken)
    {
        var client = ClientFor(userApiKey);
        try
        {
            ClientResult<ResponseResult> result = await client.GetResponseAsync(responseId, cancellationToken);
            return Map(result.Value);
        }
        catch (Exception ex) when (Translate(ex, userApiKey is not null, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    public void Dispose()
    {
        _transport.Dispose();
        _http.Dispose();
    }

    private ResponsesClient ClientFor(string? userApiKey)
    {
        if (userApiKey is not null)
        {
            return CreateClient(userApiKey);
        }
        return HasServerKey ? _serverClient.Value : throw KeySelection.ServerKeyMissing();
    }

    private ResponsesClient CreateClient(string apiKey)
    {
        var options = new ResponsesClientOptions
        {
            Endpoint = _target.Endpoint,
            Transport = _transport,
            NetworkTimeout = TimeSpan.FromSeconds(_target.TimeoutSeconds),
            // NOTE: no SDK retries: a 429 must reach the caller with its Retry-After, not be slept on here.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
        if (_target.ApiVersion is { } version) options.AddPolicy(new ApiVersionPolicy(version), PipelinePosition.PerCall);
        return new ResponsesClient(_target.Authentication(apiKey), options);
    }

    private static CreateResponseOptions ToOptions(UpstreamRequest request, bool stream, ResponsesTarget target)
    {
        var options = new CreateResponseOptions
        {
            Model = target.UpstreamModel(request.Model),
            Instructions = request.Instructions,
            MaxOutputTokenCount = request.MaxOutputTokens,
            Temperature = (float)request.Temperature,
        };
        foreach (var m in request.Input)
        {
            options.InputItems.Add(m.Role switch
            {
                "assistant" => ResponseItem.CreateAssistantMessageItem(m.Content),
                "system" => ResponseItem.CreateSystemMessageItem(m.Content),
                "developer" => ResponseItem.CreateDeveloperMessageItem(m.Content),
                _ => ResponseItem.CreateUserMessageItem(m.Content),
            });
        }
        if (request.WebSearch)
        {
            options.Tools.Add(ResponseTool.CreateWebSearchTool());
        }
        if (request.Background)
        {
            options.BackgroundModeEnabled = true;
            options.StoredOutputEnabled = true;
        }
        if (stream)
        {
            options.StreamingEnabled = true;
        }
        return options;
    }

    private static UpstreamResult Map(ResponseResult r) => new()
    {
        Id = r.Id,
        Status = r.Status switch
        {
            ResponseStatus.Completed => "completed",
            ResponseStatus.InProgress => "in_progress",
            ResponseStatus.Queued => "queued",
            ResponseStatus.Failed => "failed",
            ResponseStatus.Cancelled => "cancelled",
            ResponseStatus.Incomplete => "incomplete",
            _ => "completed",
        },
        OutputText = r.GetOutputText() ?? "",
        Model = r.Model ?? "",
        Usage = r.Usage is { } u
            ? new TokenUsage(u.InputTokenCount, u.InputTokenDetails?.CachedTokenCount ?? 0, u.OutputTokenCount, u.OutputTokenDetails?.ReasoningTokenCount ?? 0)
            : default,
        CreatedAt = r.CreatedAt,
        Temperature = r.Temperature,
        Error = r.Error?.Message,
    };

    /// <summary>SDK/HTTP failures as typed errors; null when the caller itself cancelled (let that propagate).</summary>
    private LlmServerException? Translate(Exception ex, bool userKey, CancellationToken cancellationToken)
    {
        if (ex is LlmServerException)
        {
            return null;
        }
        if (cancellationToken.IsCancellationRequested && ex is OperationCanceledException)
        {
            return null;
        }
        if (ex is OperationCanceledException or TimeoutException || ex.InnerException is TimeoutException)
        {
            Log.UpstreamTimeout(_logger, _target.TimeoutSeconds);
            return new LlmServerException(ErrorKind.Timeout, "upstream_timeout",
                $"The upstream did not answer within {_target.TimeoutSeconds} s ({_target.TimeoutSetting}).",
                _target.TimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (ex is ClientResultException cre && cre.Status != 0)
        {
            var status = cre.Status;
            var raw = cre.GetRawResponse();
            Log.UpstreamStatus(_logger, status, userKey ? "user" : "server");
            switch (status)
            {
                case 401 or 403 when userKey:
                    return new LlmServerException(ErrorKind.Unauthorized, "invalid_user_api_key",
                        _target.Provider + " rejected the API key sent in openai_api_key.");
                case 401 or 403:
                    return new LlmServerException(ErrorKind.Unreachable, "upstream_auth_failed",
                        $"The upstream rejected the server's API key ({_target.KeyEnv}).", _target.KeyEnv);
                case 429:
                    string? retryAfter = raw is not null && raw.Headers.TryGetValue("Retry-After", out var ra) ? ra : null;
                    return new LlmServerException(ErrorKind.RateLimited, "rate_limited", "The upstream rate limit was reached; retry later.")
                    {
                        RetryAfter = retryAfter,
                    };
                case 404:
                    return new LlmServerException(ErrorKind.NotFound, "not_found", "The upstream does not know this resource.");
                case >= 400 and < 500:
                    var detail = UpstreamMessage(raw) ?? $"status {status}";
                    return new LlmServerException(ErrorKind.Validation, "upstream_rejected",
                        "The upstream rejected the request: " + detail, detail);
                default:
                    return new LlmServerException(ErrorKind.Unreachable, "upstream_error",
                        $"The upstream answered with status {status}.", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        if (ex is ClientResultException or HttpRequestException or IOException or JsonException or FormatException or InvalidOperationException)
        {
            Log.UpstreamUnreachable(_logger, ex.GetType().Name);
            return new LlmServerException(ErrorKind.Unreachable, "upstream_unreachable",
                $"The upstream could not be reached or sent an invalid answer ({_target.UrlSetting}).", _target.UrlEnv);
        }
        return null;
    }

    private static string? UpstreamMessage(PipelineResponse? raw)
    {
        try
        {
            if (raw?.Content is null)
            {
                return null;
            }
            using var doc = JsonDocument.Parse(raw.Content.ToMemory());
            return doc.RootElement.TryGetProperty("error", out var e) && e.TryGetProperty("message", out var m) ? m.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Upstream answered status {Status} (key source {KeySource})")]
        public static partial void UpstreamStatus(ILogger logger, int status, string keySource);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Upstream unreachable or invalid answer ({ExceptionType})")]
        public static partial void UpstreamUnreachable(ILogger logger, string exceptionType);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Upstream timed out after {TimeoutSeconds} s")]
        public static partial void UpstreamTimeout(ILogger logger, int timeoutSeconds);
    }
}
