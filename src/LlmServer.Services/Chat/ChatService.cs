using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmServer.Dto.Chat;
using LlmServer.Services.Accounting;
using System.Globalization;
using LlmServer.Services.Errors;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Services.Ownership;
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
    Task<ChatResponse> ChatAsync(ChatRequest request, ChatCaller caller, string language, CancellationToken cancellationToken);

    /// <summary>Streams a chat answer; the last item carries the summary. The turn is stored only after completion.</summary>
    IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatRequest request, ChatCaller caller, string language, CancellationToken cancellationToken);

    /// <summary>Polls a background response.</summary>
    Task<ChatResponse> GetBackgroundAsync(string responseId, string? userApiKey, ChatCaller caller, CancellationToken cancellationToken);

    /// <summary>The stored messages of the caller's session, oldest first (empty when the caller has no such session).</summary>
    Task<IReadOnlyList<ChatTurn>> GetHistoryAsync(string sessionId, ChatCaller caller, CancellationToken cancellationToken);

    /// <summary>Removes the caller's session history; false when the caller had none.</summary>
    Task<bool> DeleteHistoryAsync(string sessionId, ChatCaller caller, CancellationToken cancellationToken);
}

/// <inheritdoc />
public sealed partial class ChatService(
    IResponsesUpstream upstream,
    IChatHistoryStore store,
    ICostCalculator costs,
    IUsageSink usage,
    IOptionsMonitor<ChatOptions> options,
    TimeProvider time,
    ILogger<ChatService> logger,
    Tokens.ITokenCounter? tokens = null,
    IMaskingService? masking = null,
    IRequestAdmission? admission = null,
    IOwnedResponseStore? responses = null) : IChatService
{
    private const int MaxStoredMessagesReturned = 10_000;

    /// <inheritdoc />
    public async Task<ChatResponse> ChatAsync(ChatRequest request, ChatCaller caller, string language, CancellationToken cancellationToken)
    {
        var x = new ChatExchange(request, caller, Stopwatch.GetTimestamp(), stream: false);
        try
        {
            var p = await Guarded(x, () => PrepareAsync(request, caller, language, x, cancellationToken));
            var result = await Guarded(x, () => upstream.CreateAsync(p.Call, cancellationToken));
            if (request.Background)
            {
                Log.BackgroundStarted(logger, result.Id, p.Call.Model, p.Keys.Source);
                await Guarded(x, async Task<bool> () => { await RememberBackgroundAsync(result.Id, request, caller, x.Masking, cancellationToken); return true; });
                x.Succeeded(result, p.Keys);
                return new ChatResponse
                {
                    SessionId = request.EffectiveSessionId, Model = result.Model, ApiKeySource = p.Keys.Source, CreatedAt = result.CreatedAt,
                    Temperature = p.Call.Temperature, Instructions = p.Instructions, ResponseId = result.Id, Status = result.Status,
                    ResponseTimeMs = Stopwatch.GetElapsedTime(x.Started).TotalMilliseconds,
                };
            }
            var restored = await Guarded(x, () => RestoreAsync(x, result.OutputText, cancellationToken));
            result = result with { OutputText = restored };
            await Guarded(x, async Task<bool> () => { await StoreTurnAsync(caller, request, restored, cancellationToken); return true; });
            x.Succeeded(result, p.Keys);
            return Complete(request, p.Call, p.Keys, p.Instructions, result, x.Started);
        }
        finally
        {
            await SettleAsync(x);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatRequest request, ChatCaller caller, string language,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var x = new ChatExchange(request, caller, Stopwatch.GetTimestamp(), stream: true);
        try
        {
            var p = await Guarded(x, () => PrepareAsync(request, caller, language, x, cancellationToken));
            UpstreamResult? final = null;
            var restorer = x.Masking?.CreateRestorer();
            await using var events = upstream.StreamAsync(p.Call, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (await Guarded(x, () => events.MoveNextAsync()))
            {
                var e = events.Current;
                if (e.Completed is not null)
                {
                    final = e.Completed;
                }
                else if (!string.IsNullOrEmpty(e.Delta))
                {
                    var delta = restorer is null ? e.Delta : await Guarded(x, () => restorer.PushAsync(e.Delta, cancellationToken));
                    if (delta.Length > 0) yield return new ChatStreamItem(delta, null);
                }
            }
            if (restorer is not null)
            {
                var tail = await restorer.FlushAsync(cancellationToken);
                if (tail.Length > 0) yield return new ChatStreamItem(tail, null);
            }
            if (final is null)
            {
                var ex = new LlmServerException(ErrorKind.Unreachable, "upstream_unreachable", "The upstream stream ended before it completed.");
                x.Failed(ex);
                throw ex;
            }
            var restored = await Guarded(x, () => RestoreAsync(x, final.OutputText, cancellationToken));
            final = final with { OutputText = restored };
            // NOTE: the turn is stored only now, after the upstream stream completed; a cancelled stream stores nothing.
            await Guarded(x, async Task<bool> () => { await StoreTurnAsync(caller, request, restored, cancellationToken); return true; });
            x.Succeeded(final, p.Keys);
            yield return new ChatStreamItem(null, Complete(request, p.Call, p.Keys, p.Instructions, final, x.Started));
        }
        finally
        {
            await SettleAsync(x);
        }
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetBackgroundAsync(string responseId, string? userApiKey, ChatCaller caller, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (userApiKey is null && !upstream.HasServerKey)
        {
            throw KeySelection.ServerKeyMissing();
        }
        // NOTE: a response id is answered only for the owner that started it, on any instance; another owner's id
        // (or an unknown one) is "not found", so nobody learns that someone else's response exists.
        var pending = responses is null ? null : await responses.GetAsync(responseId, caller.Owner, cancellationToken);
        if (pending is null)
        {
            throw new LlmServerException(ErrorKind.NotFound, "response_not_found", $"No response found with id '{responseId}'.", "response_id");
        }
        var result = await upstream.GetAsync(responseId, userApiKey, cancellationToken);
        if (masking is not null && pending.MaskingScope is { } scope && MaskingPolicies.Parse(pending.MaskingPolicy) == MaskingPolicy.Mask
            && !string.IsNullOrEmpty(result.OutputText))
        {
            var restoring = masking.Resume(MaskingPolicy.Mask, scope);
            result = result with { OutputText = await restoring.RestoreAsync(result.OutputText, jsonEscaped: false, cancellationToken) };
        }
        if (result.Status == "completed" && pending.SessionId is { } sessionId
            && await responses!.ClaimTurnAsync(responseId, caller.Owner, cancellationToken))
        {
            await StoreTurnAsync(caller.Owner, sessionId, pending.UserPrompt ?? "", result.OutputText, cancellationToken);
        }
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
    public Task<IReadOnlyList<ChatTurn>> GetHistoryAsync(string sessionId, ChatCaller caller, CancellationToken cancellationToken) =>
        store.GetAsync(caller.Owner, sessionId, MaxStoredMessagesReturned, cancellationToken);

    /// <inheritdoc />
    public Task<bool> DeleteHistoryAsync(string sessionId, ChatCaller caller, CancellationToken cancellationToken) =>
        store.DeleteAsync(caller.Owner, sessionId, cancellationToken);

    /// <summary>
    /// Records a background response for its owner: where its masked values live and which session turn it
    /// completes, so a poll on any instance restores the answer and stores the turn once.
    /// </summary>
    private async Task RememberBackgroundAsync(string responseId, ChatRequest request, ChatCaller caller, MaskingSession? masked, CancellationToken cancellationToken)
    {
        if (responses is null)
        {
            return;
        }
        try
        {
            await AddAsync();
        }
        catch (Exception e) when (e is not (OperationCanceledException or LlmServerException))
        {
            // NOTE: the type only: a database error message can carry the connection string.
            Log.BackgroundRecordFailed(logger, e.GetType().Name);
            throw new LlmServerException(ErrorKind.Unavailable, "store_unavailable",
                "The background response could not be recorded, so it could not be polled; retry later.");
        }

        Task AddAsync() => responses.AddAsync(new OwnedResponse
        {
            Id = responseId, Owner = caller.Owner, Surface = ResponseSurfaces.SessionChat,
            SessionId = request.EffectiveSessionId, UserPrompt = request.EffectiveSessionId is null ? null : request.EffectiveUserPrompt ?? "",
            MaskingScope = masked is { Summary.Total: > 0, RestoresResponses: true } ? masked.Scope : null,
            MaskingPolicy = masked?.Policy.ToString().ToLowerInvariant(), CreatedAt = time.GetUtcNow(),
        }, cancellationToken);
    }

    private sealed record Prepared(UpstreamRequest Call, KeySelection Keys, string Instructions);

    private async Task<Prepared> PrepareAsync(ChatRequest request, ChatCaller caller, string language, ChatExchange x, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var keys = KeySelection.Select(request, upstream.HasServerKey);
        x.KeySource = keys.Source;
        var instructions = ChatComposition.ComposeInstructions(request, o, language);
        IReadOnlyList<ChatTurn> stored = [];
        if (request.EffectiveSessionId is { } sessionId && o.History.MaxTurns > 0)
        {
            stored = ChatComposition.ApplyWindow(await store.GetAsync(caller.Owner, sessionId, o.History.MaxTurns * 2, cancellationToken), o.History);
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
        x.Model = call.Model;

        if (admission is not null)
        {
            var prompt = tokens is null ? 0 : Tokens.AdmissionTokens.For(tokens, caller.VirtualKey, call);
            var admitted = await admission.AdmitAsync(caller.VirtualKey, call.Model, prompt, call.MaxOutputTokens, cancellationToken);
            if (!admitted.Admitted)
            {
                throw Refusal(admitted, call.Model);
            }
            x.Ticket = admitted.Ticket;
        }

        if (masking is not null)
        {
            // NOTE: stored history holds the restored (original) text; masking it again in the same vault scope gives
            // every value the placeholder it had before, so the model sees a consistent conversation.
            // NOTE: a background answer is restored by a later poll, so its scope must live in the vault: the
            // owner's key scope rather than a request-only one.
            var scopeKey = request.Background ? caller.LedgerKeyId ?? caller.Owner : caller.LedgerKeyId;
            var session = masking.BeginFor(MaskingRoute.ApiChat, caller.VirtualKey?.Spec.MaskingPolicy, request.EffectiveSessionId, scopeKey);
            x.Masking = session;
            if (session.Policy != MaskingPolicy.Off)
            {
                var maskedInstructions = call.Instructions is null ? null : (await session.MaskAsync(call.Instructions, cancellationToken)).Text;
                var input = new List<UpstreamMessage>(call.Input.Count);
                foreach (var m in call.Input)
                {
                    input.Add(m with { Content = (await session.MaskAsync(m.Content, cancellationToken)).Text });
                }
                if (session.Policy == MaskingPolicy.Block && session.Summary.Total > 0)
                {
                    throw new MaskingBlockedException(session.Summary.Counts);
                }
                call = call with { Instructions = maskedInstructions, Input = input };
                if (session.Summary.Total > 0) caller.MaskedSummary = session.Summary.ToHeaderValue();
            }
        }
        Log.Calling(logger, call.Model, keys.Source, stored.Count, call.WebSearch, call.Background);
        return new Prepared(call, keys, instructions);
    }

    private static LlmServerException Refusal(Admission admitted, string model) => admitted.Outcome switch
    {
        AdmissionOutcome.ModelNotAllowed => new LlmServerException(ErrorKind.Forbidden, "model_not_allowed", admitted.Message ?? $"This key may not use model '{model}'.", model),
        AdmissionOutcome.BudgetExceeded => new LlmServerException(ErrorKind.RateLimited, "budget_exceeded", admitted.Message ?? "The budget of this key is exhausted.", admitted.Message ?? "")
        {
            RetryAfter = (admitted.RetryAfterSeconds > 0 ? admitted.RetryAfterSeconds : 60).ToString(CultureInfo.InvariantCulture),
        },
        _ => new LlmServerException(ErrorKind.RateLimited, "key_rate_limited", admitted.Message ?? "Rate limit reached; retry later.",
            Math.Max(1, admitted.RetryAfterSeconds).ToString(CultureInfo.InvariantCulture))
        {
            RetryAfter = Math.Max(1, admitted.RetryAfterSeconds).ToString(CultureInfo.InvariantCulture),
        },
    };

    private static async ValueTask<string> RestoreAsync(ChatExchange x, string text, CancellationToken cancellationToken) =>
        x.Masking is { RestoresResponses: true } m && m.Summary.Total > 0 ? await m.RestoreAsync(text, jsonEscaped: false, cancellationToken) : text;

    /// <summary>Runs one step, noting how it failed (for the ledger) and turning masking failures into API errors.</summary>
    private static async Task<T> Guarded<T>(ChatExchange x, Func<Task<T>> step)
    {
        try
        {
            return await step();
        }
        catch (Exception e) when (Translate(x, e) is { } ex)
        {
            throw ex;
        }
    }

    private static async ValueTask<T> Guarded<T>(ChatExchange x, Func<ValueTask<T>> step)
    {
        try
        {
            return await step();
        }
        catch (Exception e) when (Translate(x, e) is { } ex)
        {
            throw ex;
        }
    }

    /// <summary>Records the failure; returns the exception to throw instead, or null to rethrow the original.</summary>
    private static Exception? Translate(ChatExchange x, Exception e)
    {
        switch (e)
        {
            case MaskingFailedException:
            {
                var ex = new LlmServerException(ErrorKind.Unavailable, "masking_unavailable",
                    "Sensitive-data masking is unavailable, so the request was not sent upstream. Retry later.");
                x.Failed(ex);
                return ex;
            }
            case MaskingBlockedException blocked:
            {
                var types = string.Join(", ", blocked.Types);
                var ex = new LlmServerException(ErrorKind.Validation, "sensitive_data_blocked",
                    $"The request contains sensitive data and the masking policy is 'block'. Types found: {types}", types);
                x.Failed(ex);
                return ex;
            }
            case LlmServerException l:
                x.Failed(l);
                return null;
            case OperationCanceledException:
                x.Status = 499;
                x.ErrorCode = "client_closed";
                return null;
            default:
                x.Status = 500;
                x.ErrorCode = "internal_error";
                return null;
        }
    }

    /// <summary>Settles or releases the admission, then writes the request's one ledger row.</summary>
    private async Task SettleAsync(ChatExchange x)
    {
        var result = x.Result;
        var usageTokens = result?.Usage ?? default;
        var cost = result is null ? default : costs.Compute(result.Model, usageTokens);
        if (cost.Warning is not null)
        {
            Log.UnknownPrice(logger, result!.Model);
        }
        // NOTE: cost is accounted to the server only when the server's key paid.
        var serverCost = x.KeySource == KeySelection.Server ? cost.Usd : null;
        if (x.Ticket is { } ticket)
        {
            try
            {
                if (result is not null && x.Status == 200 && !x.Request.Background)
                {
                    await ticket.CompleteAsync(usageTokens.InputTokens, usageTokens.OutputTokens, serverCost ?? 0m, CancellationToken.None);
                }
                else
                {
                    await ticket.DisposeAsync();
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.SettleFailed(logger, e.GetType().Name);
                await ticket.DisposeAsync();
            }
        }
        usage.Record(new UsageRecord
        {
            Timestamp = time.GetUtcNow(), KeyId = x.Caller.LedgerKeyId, SessionId = x.Request.EffectiveSessionId, Route = "api_chat",
            Model = result?.Model ?? x.Model, Upstream = upstream.Name, Status = x.Status ?? 499,
            InputTokens = usageTokens.InputTokens, CachedTokens = usageTokens.CachedTokens,
            OutputTokens = usageTokens.OutputTokens, ReasoningTokens = usageTokens.ReasoningTokens,
            CostUsd = serverCost, ApiKeySource = x.KeySource, LatencyMs = Stopwatch.GetElapsedTime(x.Started).TotalMilliseconds,
            Stream = x.Stream, ErrorCode = x.Status is null ? "client_closed" : x.ErrorCode,
            MaskedCounts = x.Masking is { Summary.Total: > 0 } m ? new Dictionary<string, int>(m.Summary.Counts) : null,
        });
    }

    /// <summary>What one chat request did, for admission settlement and the ledger.</summary>
    private sealed class ChatExchange(ChatRequest request, ChatCaller caller, long started, bool stream)
    {
        public ChatRequest Request { get; } = request;
        public ChatCaller Caller { get; } = caller;
        public long Started { get; } = started;
        public bool Stream { get; } = stream;
        public string? Model { get; set; }
        public string? KeySource { get; set; }
        public AdmissionTicket? Ticket { get; set; }
        public MaskingSession? Masking { get; set; }
        public UpstreamResult? Result { get; private set; }
        public int? Status { get; set; }
        public string? ErrorCode { get; set; }

        public void Succeeded(UpstreamResult result, KeySelection keys)
        {
            Result = result;
            KeySource = keys.Source;
            Status = 200;
        }

        public void Failed(LlmServerException e)
        {
            Status = e.Kind switch
            {
                ErrorKind.Validation => 400,
                ErrorKind.ConfigurationMissing or ErrorKind.Unavailable => 503,
                ErrorKind.Unauthorized => 401,
                ErrorKind.Forbidden => 403,
                ErrorKind.RateLimited => 429,
                ErrorKind.Unreachable => 502,
                ErrorKind.Timeout => 504,
                ErrorKind.NotFound => 404,
                _ => 500,
            };
            ErrorCode = e.Code;
        }
    }

    private Task StoreTurnAsync(ChatCaller caller, ChatRequest request, string answer, CancellationToken cancellationToken) =>
        request.EffectiveSessionId is { } sessionId
            ? StoreTurnAsync(caller.Owner, sessionId, request.EffectiveUserPrompt ?? "", answer, cancellationToken)
            : Task.CompletedTask;

    private async Task StoreTurnAsync(string owner, string sessionId, string prompt, string answer, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await store.AppendAsync(owner, sessionId, [new ChatTurn("user", prompt, now), new ChatTurn("assistant", answer, now)], cancellationToken);
    }

    private ChatResponse Complete(ChatRequest request, UpstreamRequest call, KeySelection keys, string instructions,
        UpstreamResult result, long started)
    {
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var cost = costs.Compute(result.Model, result.Usage);
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

        [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Settling the admission of a chat request failed ({Error})")]
        public static partial void SettleFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 2005, Level = LogLevel.Error, Message = "Recording a background response failed ({Error})")]
        public static partial void BackgroundRecordFailed(ILogger logger, string error);
    }
}
