using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmServer.Dto.Chat;
using LlmServer.Services.Accounting;
using LlmServer.Services.Errors;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Chat;

/// <summary>One piece of a streamed chat: a text delta, or the final summary.</summary>
public readonly record struct ChatStreamItem(string? Delta, ChatResponse? Final);

/// <summary>The session chat API: composes the prompt, picks the key, calls upstream, prices and stores the turn.</summary>
public interface IChatService
{
    /// <summary>Answers a chat request (or starts a background response).</summary>
    Task<ChatResponse> ChatAsync(ChatRequest request, string language, CancellationToken cancellationToken);

    /// <summary>Streams a chat answer; the last item carries the summary. The turn is stored only after completion.</summary>
    IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatRequest request, string language, CancellationToken cancellationToken);

    /// <summary>Polls a background response.</summary>
    Task<ChatResponse> GetBackgroundAsync(string responseId, string? userApiKey, CancellationToken cancellationToken);

    /// <summary>The stored messages of a session, oldest first (empty when unknown).</summary>
    Task<IReadOnlyList<ChatTurn>> GetHistoryAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Removes a session's history; false when there was none.</summary>
    Task<bool> DeleteHistoryAsync(string sessionId, CancellationToken cancellationToken);
}

/// <inheritdoc />
public sealed partial class ChatService(
    IResponsesUpstream upstream,
    IChatHistoryStore store,
    ICostCalculator costs,
    IUsageSink usage,
    IOptionsMonitor<ChatOptions> options,
    TimeProvider time,
    ILogger<ChatService> logger) : IChatService
{
    private const int MaxStoredMessagesReturned = 10_000;

    /// <inheritdoc />
    public async Task<ChatResponse> ChatAsync(ChatRequest request, string language, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var (call, keys, instructions) = await PrepareAsync(request, language, cancellationToken);
        var result = await upstream.CreateAsync(call, cancellationToken);
        if (request.Background)
        {
            Log.BackgroundStarted(logger, result.Id, call.Model, keys.Source);
            return new ChatResponse
            {
                SessionId = request.EffectiveSessionId, Model = result.Model, ApiKeySource = keys.Source, CreatedAt = result.CreatedAt,
                Temperature = call.Temperature, Instructions = instructions, ResponseId = result.Id, Status = result.Status,
                ResponseTimeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            };
        }
        await StoreTurnAsync(request, result.OutputText, cancellationToken);
        return Complete(request, call, keys, instructions, result, started, stream: false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatRequest request, string language,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var (call, keys, instructions) = await PrepareAsync(request, language, cancellationToken);
        UpstreamResult? final = null;
        await foreach (var e in upstream.StreamAsync(call, cancellationToken).WithCancellation(cancellationToken))
        {
            if (e.Completed is not null)
            {
                final = e.Completed;
            }
            else if (!string.IsNullOrEmpty(e.Delta))
            {
                yield return new ChatStreamItem(e.Delta, null);
            }
        }
        if (final is null)
        {
            throw new LlmServerException(ErrorKind.Unreachable, "upstream_unreachable", "The upstream stream ended before it completed.");
        }
        // NOTE: the turn is stored only now, after the upstream stream completed; a cancelled stream stores nothing.
        await StoreTurnAsync(request, final.OutputText, cancellationToken);
        yield return new ChatStreamItem(null, Complete(request, call, keys, instructions, final, started, stream: true));
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetBackgroundAsync(string responseId, string? userApiKey, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (userApiKey is null && !upstream.HasServerKey)
        {
            throw KeySelection.ServerKeyMissing();
        }
        var result = await upstream.GetAsync(responseId, userApiKey, cancellationToken);
        var source = userApiKey is null ? KeySelection.Server : KeySelection.User;
        var cost = result.Status == "completed" ? costs.Compute(result.Model, result.Usage) : default;
        return new ChatResponse
        {
            OutputText = result.OutputText, Model = result.Model, InputTokens = result.Usage.InputTokens,
            CachedTokens = result.Usage.CachedTokens, OutputTokens = result.Usage.OutputTokens, TotalTokens = result.Usage.TotalTokens,
            CostUsd = cost.Usd, CostKrw = cost.Krw, CostWarning = cost.Warning, ApiKeySource = source, CreatedAt = result.CreatedAt,
            Temperature = result.Temperature, ResponseId = result.Id, Status = result.Status,
            ResponseTimeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatTurn>> GetHistoryAsync(string sessionId, CancellationToken cancellationToken) =>
        store.GetAsync(sessionId, MaxStoredMessagesReturned, cancellationToken);

    /// <inheritdoc />
    public Task<bool> DeleteHistoryAsync(string sessionId, CancellationToken cancellationToken) =>
        store.DeleteAsync(sessionId, cancellationToken);

    private async Task<(UpstreamRequest Call, KeySelection Keys, string Instructions)> PrepareAsync(
        ChatRequest request, string language, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var keys = KeySelection.Select(request, upstream.HasServerKey);
        var instructions = ChatComposition.ComposeInstructions(request, o, language);
        IReadOnlyList<ChatTurn> stored = [];
        if (request.EffectiveSessionId is { } sessionId && o.History.MaxTurns > 0)
        {
            stored = ChatComposition.ApplyWindow(await store.GetAsync(sessionId, o.History.MaxTurns * 2, cancellationToken), o.History);
        }
        var call = new UpstreamRequest
        {
            Model = string.IsNullOrWhiteSpace(request.Model) ? o.DefaultModel : request.Model.Trim(),
            Instructions = instructions.Length == 0 ? null : instructions,
            Input = ChatComposition.ComposeInput(request, stored),
            MaxOutputTokens = request.MaxTokens ?? o.MaxTokens,
            Temperature = request.Temperature ?? o.Temperature,
            WebSearch = request.WebSearch,
            Background = request.Background,
            UserApiKey = keys.UserApiKey,
        };
        Log.Calling(logger, call.Model, keys.Source, stored.Count, call.WebSearch, call.Background);
        return (call, keys, instructions);
    }

    private async Task StoreTurnAsync(ChatRequest request, string answer, CancellationToken cancellationToken)
    {
        if (request.EffectiveSessionId is not { } sessionId)
        {
            return;
        }
        var now = time.GetUtcNow();
        await store.AppendAsync(sessionId,
            [new ChatTurn("user", request.EffectiveUserPrompt ?? "", now), new ChatTurn("assistant", answer, now)],
            cancellationToken);
    }

    private ChatResponse Complete(ChatRequest request, UpstreamRequest call, KeySelection keys, string instructions,
        UpstreamResult result, long started, bool stream)
    {
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var cost = costs.Compute(result.Model, result.Usage);
        if (cost.Warning is not null)
        {
            Log.UnknownPrice(logger, result.Model);
        }
        usage.Record(new UsageRecord
        {
            Timestamp = time.GetUtcNow(), SessionId = request.EffectiveSessionId, Route = "api_chat", Model = result.Model,
            Upstream = "openai", Status = 200, InputTokens = result.Usage.InputTokens, CachedTokens = result.Usage.CachedTokens,
            OutputTokens = result.Usage.OutputTokens, ReasoningTokens = result.Usage.ReasoningTokens,
            // NOTE: cost is accounted to the server only when the server's key paid.
            CostUsd = keys.Source == KeySelection.Server ? cost.Usd : null,
            ApiKeySource = keys.Source, LatencyMs = elapsed, Stream = stream,
        });
        return new ChatResponse
        {
            SessionId = request.EffectiveSessionId, OutputText = result.OutputText, Model = result.Model,
            InputTokens = result.Usage.InputTokens, CachedTokens = result.Usage.CachedTokens, OutputTokens = result.Usage.OutputTokens,
            TotalTokens = result.Usage.TotalTokens, CostUsd = cost.Usd, CostKrw = cost.Krw, CostWarning = cost.Warning,
            ResponseTimeMs = Math.Round(elapsed, 1), ApiKeySource = keys.Source, CreatedAt = result.CreatedAt,
            Temperature = call.Temperature, Instructions = instructions, ResponseId = result.Id, Status = result.Status,
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information,
            Message = "Chat call model={Model} key_source={KeySource} history_messages={HistoryMessages} web_search={WebSearch} background={Background}")]
        public static partial void Calling(ILogger logger, string model, string keySource, int historyMessages, bool webSearch, bool background);

        [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Background response {ResponseId} started model={Model} key_source={KeySource}")]
        public static partial void BackgroundStarted(ILogger logger, string responseId, string model, string keySource);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "No price configured for model {Model}; cost reported as null")]
        public static partial void UnknownPrice(ILogger logger, string model);
    }
}
