using System.Diagnostics;
using LlmServer.Dto.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using LlmServer.Services.Ownership;

namespace LlmServer.Services.Chat;

/// <summary>What the session chat API answers: a completed turn, a started background response, a polled one.</summary>
public sealed partial class ChatService
{
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
            throw LlmServerException.From(ExchangeErrors.ResponseNotFound(responseId) with { Param = "response_id" });
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
        var cost = result.Status == "completed" ? Price(result) : default;
        return new ChatResponse
        {
            OutputText = result.OutputText, Model = result.Model, InputTokens = result.Usage.InputTokens,
            CachedTokens = result.Usage.CachedTokens, OutputTokens = result.Usage.OutputTokens, TotalTokens = result.Usage.TotalTokens,
            CostUsd = cost.Usd, CostKrw = cost.Krw, CostWarning = cost.Warning, ApiKeySource = source, CreatedAt = result.CreatedAt,
            Temperature = result.Temperature, ResponseId = result.Id, Status = result.Status,
            ResponseTimeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

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
            await responses.AddAsync(new OwnedResponse
            {
                Id = responseId, Owner = caller.Owner, Surface = ResponseSurfaces.SessionChat,
                SessionId = request.EffectiveSessionId, UserPrompt = request.EffectiveSessionId is null ? null : request.EffectiveUserPrompt ?? "",
                MaskingScope = masked is { Summary.Total: > 0, RestoresResponses: true } ? masked.Scope : null,
                MaskingPolicy = masked?.Policy.ToString().ToLowerInvariant(), CreatedAt = time.GetUtcNow(),
            }, cancellationToken);
        }
        catch (Exception e) when (e is not (OperationCanceledException or LlmServerException))
        {
            // NOTE: the type only: a database error message can carry the connection string.
            Log.BackgroundRecordFailed(logger, e.GetType().Name);
            throw LlmServerException.From(ExchangeErrors.StoreUnavailable);
        }
    }

    /// <summary>A background response just started: its id to poll, no answer yet.</summary>
    private static ChatResponse Started(ChatRequest request, Prepared p, UpstreamResult result, ExchangeState x) => new()
    {
        SessionId = request.EffectiveSessionId, Model = result.Model, ApiKeySource = p.Keys.Source, CreatedAt = result.CreatedAt,
        Temperature = p.Call.Temperature, Instructions = p.Instructions, ResponseId = result.Id, Status = result.Status,
        ResponseTimeMs = x.Elapsed.TotalMilliseconds,
    };

    private ChatResponse Complete(ChatRequest request, Prepared p, UpstreamResult result, ExchangeState x)
    {
        var cost = Price(result);
        return new ChatResponse
        {
            SessionId = request.EffectiveSessionId, OutputText = result.OutputText, Model = result.Model,
            InputTokens = result.Usage.InputTokens, CachedTokens = result.Usage.CachedTokens, OutputTokens = result.Usage.OutputTokens,
            TotalTokens = result.Usage.TotalTokens, CostUsd = cost.Usd, CostKrw = cost.Krw, CostWarning = cost.Warning,
            ResponseTimeMs = Math.Round(x.Elapsed.TotalMilliseconds, 1), ApiKeySource = p.Keys.Source, CreatedAt = result.CreatedAt,
            Temperature = p.Call.Temperature, Instructions = p.Instructions, ResponseId = result.Id, Status = result.Status,
        };
    }

    private Pricing.Cost Price(UpstreamResult result)
    {
        var cost = costs.Compute(result.Model, result.Usage);
        if (cost.Warning is not null) Log.UnknownPrice(logger, result.Model);
        return cost;
    }
}
