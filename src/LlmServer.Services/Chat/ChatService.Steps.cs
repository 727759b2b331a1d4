using System.Diagnostics;
using LlmServer.Dto.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using Microsoft.Extensions.Logging;

namespace LlmServer.Services.Chat;

/// <summary>The exchange core's steps as the session chat API runs them: prepare (compose, admit, mask), fail, succeed, end.</summary>
public sealed partial class ChatService
{
    private sealed record Prepared(UpstreamRequest Call, KeySelection Keys, string Instructions);

    private ExchangeState Begin(ChatRequest request, ChatCaller caller, bool stream, UpstreamTime waited)
    {
        var started = caller.Started ?? Stopwatch.GetTimestamp();
        return new(ExchangeSurface.SessionChat, caller.VirtualKey, caller.LedgerKeyId, started)
        {
            Stream = stream,
            SessionId = request.EffectiveSessionId,
            Upstream = upstream.Name,
            Overhead = () => waited.OverheadMs(started),
        };
    }

    private async Task<Prepared> PrepareAsync(ChatRequest request, ChatCaller caller, string language, ExchangeState x, CancellationToken cancellationToken)
    {
        var o = options.CurrentValue;
        var keys = KeySelection.Select(request, upstream.HasServerKey);
        x.ApiKeySource = keys.Source;
        var model = string.IsNullOrWhiteSpace(request.Model) ? o.DefaultModel : request.Model.Trim();
        x.Model = model;
        if (router is not null && ChatModels.Check(router, model, upstream.Name) is { } unknown)
        {
            throw LlmServerException.From(unknown);
        }
        var instructions = ChatComposition.ComposeInstructions(request, o, language);
        IReadOnlyList<ChatTurn> stored = [];
        if (request.EffectiveSessionId is { } sessionId && o.History.MaxTurns > 0)
        {
            stored = ChatComposition.ApplyWindow(await store.GetAsync(caller.Owner, sessionId, o.History.MaxTurns * 2, cancellationToken), o.History);
        }
        var call = new UpstreamRequest
        {
            Model = model,
            Instructions = instructions.Length == 0 ? null : instructions,
            Input = ChatComposition.ComposeInput(request, stored),
            MaxOutputTokens = request.MaxTokens ?? o.MaxTokens,
            Temperature = request.Temperature ?? o.Temperature,
            WebSearch = request.WebSearch,
            Background = request.Background,
            UserApiKey = keys.UserApiKey,
        };

        var prompt = tokens is null ? 0 : Tokens.AdmissionTokens.For(tokens, caller.VirtualKey, call);
        if (await steps.AdmitAsync(x, prompt, call.MaxOutputTokens, cancellationToken) is { } refused)
        {
            throw LlmServerException.From(refused);
        }

        // NOTE: a background answer is restored by a later poll, so its scope must live in the vault: the owner's
        // key scope rather than a request-only one.
        var session = steps.BeginMasking(x, MaskingRoute.ApiChat, request.Background ? caller.LedgerKeyId ?? caller.Owner : caller.LedgerKeyId);
        if (session.Policy != MaskingPolicy.Off)
        {
            // NOTE: stored history holds the restored (original) text; masking it again in the same vault scope gives
            // every value the placeholder it had before, so the model sees a consistent conversation.
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
        Log.Calling(logger, call.Model, keys.Source, stored.Count, call.WebSearch, call.Background);
        return new Prepared(call, keys, instructions);
    }

    private static async ValueTask<string> RestoreAsync(ExchangeState x, string text, CancellationToken cancellationToken) =>
        x.Masking is { RestoresResponses: true } m && m.Summary.Total > 0 ? await m.RestoreAsync(text, jsonEscaped: false, cancellationToken) : text;

    /// <summary>Runs one step of a stream, recording how it failed (see <see cref="Failed"/>).</summary>
    private async Task<T> Guarded<T>(ExchangeState x, Func<Task<T>> step, bool restoring = false)
    {
        try
        {
            return await step();
        }
        catch (Exception e) when (Failed(x, e, restoring) is { } replacement)
        {
            throw replacement;
        }
    }

    private async ValueTask<T> Guarded<T>(ExchangeState x, Func<ValueTask<T>> step, bool restoring = false)
    {
        try
        {
            return await step();
        }
        catch (Exception e) when (Failed(x, e, restoring) is { } replacement)
        {
            throw replacement;
        }
    }

    /// <summary>
    /// Writes the failed request's ledger row with the code the caller is answered; returns the exception to throw
    /// instead (a masking failure becomes its catalogue entry), or null to let the original propagate.
    /// </summary>
    private LlmServerException? Failed(ExchangeState x, Exception e, bool restoring)
    {
        switch (e)
        {
            case LlmServerException known:
                steps.Record(x, known.StatusCode, known.Code);
                return null;
            case OperationCanceledException:
                steps.Record(x, ExchangeErrors.ClientClosedStatus, ExchangeErrors.ClientDisconnected);
                return null;
        }
        if (steps.MaskingError(e, restoring) is { } masked)
        {
            steps.Record(x, masked);
            return LlmServerException.From(masked);
        }
        Log.Unexpected(logger, e.GetType().Name);
        steps.Record(x, 500, "internal_error");
        return null;
    }

    private void Succeeded(ExchangeState x, UpstreamResult result)
    {
        x.Usage = result.Usage;
        x.PricedModel = result.Model;
        steps.Record(x, 200, null);
    }

    /// <summary>
    /// The request's end, however it came: a request that stopped without an answer or an error (the client went
    /// away mid-stream) gets its row now; then the reservation is settled (a 200) or released.
    /// </summary>
    private async ValueTask EndAsync(ExchangeState x)
    {
        if (!x.Recorded) steps.Record(x, ExchangeErrors.ClientClosedStatus, ExchangeErrors.ClientDisconnected);
        await steps.SettleAsync(x, x.Usage is not null);
    }
}
