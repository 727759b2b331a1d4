// NOTE: the SDK marks the Responses client experimental (OPENAI001); this file is the one place that uses it.
#pragma warning disable OPENAI001
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LlmServer.Services.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Logging;
using OpenAI.Responses;

namespace LlmServer.External.OpenAi;

/// <summary>
/// The Responses API over the official OpenAI SDK, against OpenAI or an Azure OpenAI resource (see
/// <see cref="ResponsesTarget"/>). One shared client for the server's key; callers' keys get a per-request client,
/// and every client sends through the one upstream transport (<see cref="TransportHandler"/>).
/// </summary>
internal sealed partial class OpenAiResponsesUpstream : IResponsesUpstream, IDisposable
{
    private readonly ResponsesTarget _target;
    private readonly HttpClient _http;
    private readonly HttpClientPipelineTransport _transport;
    private readonly Lazy<ResponsesClient> _serverClient;
    private readonly ILogger<OpenAiResponsesUpstream> _logger;

    public OpenAiResponsesUpstream(ResponsesTarget target, TransportHandler transport, ILogger<OpenAiResponsesUpstream> logger)
    {
        _target = target;
        _logger = logger;
        // NOTE: the pipeline enforces NetworkTimeout; HttpClient's own timeout would race it with a different error.
        _http = new HttpClient(transport, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
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
                    case StreamingResponseFailedUpdate or StreamingResponseErrorUpdate:
                        Log.UpstreamAnswerFailed(_logger, update.GetType().Name);
                        throw LlmServerException.From(ExchangeErrors.UpstreamAnswerFailed);
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
            // NOTE: no SDK retries: the transport retries before the first byte, and passes a 429 it would not wait for on.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
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

    /// <summary>
    /// SDK failures as the catalogue's entries; null when the exception already is one, or the caller itself
    /// cancelled (let those propagate). The transport has already turned upstream 5xx, 429, timeouts before the
    /// first byte and unreachable upstreams into entries; what is left is a relayed 4xx and an answer the SDK cannot read.
    /// </summary>
    private LlmServerException? Translate(Exception ex, bool userKey, CancellationToken cancellationToken)
    {
        if (ex is LlmServerException || (cancellationToken.IsCancellationRequested && ex is OperationCanceledException))
        {
            return null;
        }
        if (ex is OperationCanceledException or TimeoutException || ex.InnerException is TimeoutException)
        {
            Log.UpstreamTimeout(_logger, _target.TimeoutSeconds);
            return LlmServerException.From(ExchangeErrors.UpstreamTimeout with
            {
                Args = [_target.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)],
            });
        }
        if (ex is ClientResultException { Status: not 0 } cre)
        {
            var status = cre.Status;
            Log.UpstreamStatus(_logger, status, userKey ? "user" : "server");
            return LlmServerException.From(status switch
            {
                401 or 403 when userKey => ExchangeErrors.InvalidUserApiKey(_target.Provider),
                401 or 403 => ExchangeErrors.UpstreamAuthFailed(_target.KeyEnv),
                429 => ExchangeErrors.UpstreamRateLimited(_target.Name, RetryAfterOf(cre.GetRawResponse())),
                >= 400 and < 500 => ExchangeErrors.UpstreamRejected(status, UpstreamMessage(cre.GetRawResponse())),
                _ => ExchangeErrors.UpstreamFailed(status),
            });
        }
        if (ex is HttpRequestException or IOException)
        {
            Log.UpstreamUnreadable(_logger, ex.GetType().Name);
            return LlmServerException.From(ExchangeErrors.UpstreamDisconnected);
        }
        if (ex is ClientResultException or JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            Log.UpstreamUnreadable(_logger, ex.GetType().Name);
            return LlmServerException.From(ExchangeErrors.UpstreamInvalidResponse);
        }
        return null;
    }

    private static long? RetryAfterOf(PipelineResponse? raw) =>
        raw is not null && raw.Headers.TryGetValue("Retry-After", out var value) && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? seconds : null;

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

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Upstream answer could not be read ({ExceptionType})")]
        public static partial void UpstreamUnreadable(ILogger logger, string exceptionType);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Upstream timed out after {TimeoutSeconds} s")]
        public static partial void UpstreamTimeout(ILogger logger, int timeoutSeconds);

        [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Upstream reported that the answer failed ({Event})")]
        public static partial void UpstreamAnswerFailed(ILogger logger, string @event);
    }
}
