using System.Runtime.CompilerServices;
using LlmServer.Dto.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
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

/// <summary>
/// The session chat adapter over the exchange core: it composes the call (system prompt, history, memory, key),
/// and runs the core's steps for admission, masking, the ledger row and settlement; the upstream call goes through
/// the Responses client, whose HTTP is the shared transport. Failures are the catalogue's entries, so this API
/// answers the same code, status and Retry-After as the others.
/// </summary>
public sealed partial class ChatService(
    IResponsesUpstream upstream,
    IChatHistoryStore store,
    ICostCalculator costs,
    ExchangeSteps steps,
    IOptionsMonitor<ChatOptions> options,
    TimeProvider time,
    ILogger<ChatService> logger,
    Tokens.ITokenCounter? tokens = null,
    IMaskingService? masking = null,
    IOwnedResponseStore? responses = null,
    Routing.IModelRouter? router = null) : IChatService
{
    private const int MaxStoredMessagesReturned = 10_000;

    /// <inheritdoc />
    public async Task<ChatResponse> ChatAsync(ChatRequest request, ChatCaller caller, string language, CancellationToken cancellationToken)
    {
        var waited = new UpstreamTime();
        var x = Begin(request, caller, stream: false, waited);
        var restoring = false;
        try
        {
            var p = await PrepareAsync(request, caller, language, x, cancellationToken);
            var result = await waited.Wait(() => upstream.CreateAsync(p.Call, cancellationToken));
            if (request.Background)
            {
                Log.BackgroundStarted(logger, result.Id, p.Call.Model, p.Keys.Source);
                await RememberBackgroundAsync(result.Id, request, caller, x.Masking, cancellationToken);
                // NOTE: the answer is priced when it is polled; the reservation is released, not settled, now.
                x.Deferred = true;
                Succeeded(x, result);
                return Started(request, p, result, x);
            }
            restoring = true;
            var restored = await RestoreAsync(x, result.OutputText, cancellationToken);
            restoring = false;
            result = result with { OutputText = restored };
            await StoreTurnAsync(caller, request, restored, cancellationToken);
            Succeeded(x, result);
            return Complete(request, p, result, x);
        }
        catch (Exception e) when (Failed(x, e, restoring) is { } replacement)
        {
            throw replacement;
        }
        finally
        {
            await EndAsync(x);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatStreamItem> StreamAsync(ChatRequest request, ChatCaller caller, string language,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var waited = new UpstreamTime();
        var x = Begin(request, caller, stream: true, waited);
        try
        {
            var p = await Guarded(x, () => PrepareAsync(request, caller, language, x, cancellationToken));
            UpstreamResult? final = null;
            var restorer = x.Masking?.CreateRestorer();
            await using var events = upstream.StreamAsync(p.Call, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (await Guarded(x, () => waited.Wait(events.MoveNextAsync)))
            {
                var e = events.Current;
                if (e.Completed is not null)
                {
                    final = e.Completed;
                }
                else if (!string.IsNullOrEmpty(e.Delta))
                {
                    var delta = restorer is null ? e.Delta : await Guarded(x, () => restorer.PushAsync(e.Delta, cancellationToken), restoring: true);
                    if (delta.Length > 0) yield return new ChatStreamItem(delta, null);
                }
            }
            if (restorer is not null)
            {
                var tail = await Guarded(x, () => restorer.FlushAsync(cancellationToken), restoring: true);
                if (tail.Length > 0) yield return new ChatStreamItem(tail, null);
            }
            if (final is null)
            {
                var cut = LlmServerException.From(ExchangeErrors.UpstreamDisconnected);
                Failed(x, cut, restoring: false);
                throw cut;
            }
            var restored = await Guarded(x, () => RestoreAsync(x, final.OutputText, cancellationToken), restoring: true);
            final = final with { OutputText = restored };
            // NOTE: the turn is stored only now, after the upstream stream completed; a cancelled stream stores nothing.
            await Guarded(x, async Task<bool> () => { await StoreTurnAsync(caller, request, restored, cancellationToken); return true; });
            Succeeded(x, final);
            yield return new ChatStreamItem(null, Complete(request, p, final, x));
        }
        finally
        {
            await EndAsync(x);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ChatTurn>> GetHistoryAsync(string sessionId, ChatCaller caller, CancellationToken cancellationToken) =>
        store.GetAsync(caller.Owner, sessionId, MaxStoredMessagesReturned, cancellationToken);

    /// <inheritdoc />
    public Task<bool> DeleteHistoryAsync(string sessionId, ChatCaller caller, CancellationToken cancellationToken) =>
        store.DeleteAsync(caller.Owner, sessionId, cancellationToken);

    private Task StoreTurnAsync(ChatCaller caller, ChatRequest request, string answer, CancellationToken cancellationToken) =>
        request.EffectiveSessionId is { } sessionId
            ? StoreTurnAsync(caller.Owner, sessionId, request.EffectiveUserPrompt ?? "", answer, cancellationToken)
            : Task.CompletedTask;

    private async Task StoreTurnAsync(string owner, string sessionId, string prompt, string answer, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await store.AppendAsync(owner, sessionId, [new ChatTurn("user", prompt, now), new ChatTurn("assistant", answer, now)], cancellationToken);
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

        [LoggerMessage(EventId = 2005, Level = LogLevel.Error, Message = "Recording a background response failed ({Error})")]
        public static partial void BackgroundRecordFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "Chat request failed unexpectedly ({Error})")]
        public static partial void Unexpected(ILogger logger, string error);
    }
}
