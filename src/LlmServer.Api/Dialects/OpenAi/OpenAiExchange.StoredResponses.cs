using System.Diagnostics;
using LlmServer.Api.Pipeline;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using LlmServer.Services.Ownership;
using LlmServer.Services.Routing;
using LlmServer.Services.Transport;

namespace LlmServer.Api.Dialects.OpenAi;

internal sealed partial class OpenAiExchange
{
    /// <summary>
    /// GET /v1/responses/{id}: only for the owner that created it through this server, from the upstream that holds
    /// it; an unknown id and another owner's id both answer 404. Retrievals are not usage, so no ledger row.
    /// </summary>
    public async Task RetrieveResponseAsync(HttpContext ctx, string id)
    {
        var feature = ctx.Features.Get<GatewayRequestFeature>() ?? new GatewayRequestFeature(Stopwatch.GetTimestamp());
        var caller = feature.Caller;
        OwnedResponse? owned;
        Deployment? deployment;
        try
        {
            (owned, deployment) = await storedResponses.FindAsync(id, caller.Owner, ctx.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(logger, e.GetType().Name);
            await DialectErrorWriter.WriteAsync(ctx, Dialect.OpenAi, ExchangeErrors.StoreUnavailable);
            return;
        }
        ModelRoute modelRoute;
        if (owned is null)
        {
            await DialectErrorWriter.WriteAsync(ctx, Dialect.OpenAi, ExchangeErrors.ResponseNotFound(id));
            return;
        }
        if (deployment is not null)
        {
            modelRoute = new ModelRoute(new ModelEntry(deployment.UpstreamModel, [deployment], null, 0), 0);
        }
        else if (!router.TryResolve(null, out modelRoute))
        {
            await DialectErrorWriter.WriteAsync(ctx, Dialect.OpenAi, ExchangeErrors.ResponseNotFound(id));
            return;
        }
        var request = new UpstreamRequest(HttpMethod.Get, "responses/" + Uri.EscapeDataString(id), null, "application/json");
        using var result = await forwarder.SendAsync(request, modelRoute, ctx.RequestAborted);
        feature.UpstreamTicks += result.UpstreamTicks;
        var x = new ExchangeState(ExchangeSurface.Responses, caller.VirtualKey, caller.LedgerKeyId, feature.Start) { Model = modelRoute.Model.Name };
        // NOTE: not usage: the one ledger row of this request is never written.
        ExchangeSteps.Skip(x);
        var call = new Call(ctx, feature, x) { Result = result, Deployment = result.Deployment };
        // NOTE: a stored response holds the placeholders its request was masked with; the vault scope recorded
        // with it (else the caller's: its key, or x-session-id) restores them, as when the response was created.
        if (result.Outcome == UpstreamOutcome.Ok)
        {
            var sessionId = ExchangeSteps.IsValidSessionId(ctx.Request.Headers[SessionMemory.Header].ToString()) ? ctx.Request.Headers[SessionMemory.Header].ToString() : null;
            var session = owned.MaskingScope is { } scope
                ? masking.Resume(MaskingPolicy.Mask, scope)
                : masking.BeginFor(MaskingRoute.Responses, caller.VirtualKey?.Spec.MaskingPolicy, sessionId, caller.LedgerKeyId);
            if (session.RestoresResponses) call.Restorer = new OpenAiResponseRestorer(session, ExchangeSurface.Responses);
        }
        switch (result.Outcome)
        {
            case UpstreamOutcome.Ok or UpstreamOutcome.ClientError:
                await RelayBodyAsync(call);
                break;
            case UpstreamOutcome.ClientAborted:
                break;
            default:
                await FailAsync(call, UpstreamFailures.ErrorOf(result, modelRoute.Model.Name) ?? ExchangeErrors.UpstreamUnreachable);
                break;
        }
    }
}
