using LlmServer.Services.Exchange;
using LlmServer.Services.Routing;

namespace LlmServer.Services.Chat;

/// <summary>
/// Which models the session chat API sends to its upstream, by the rule the /v1 surfaces use: a model the gateway
/// routes (its model table, what its upstreams list on /v1/models, claude-* with an Anthropic key). Any other name is
/// 404 model_not_found before anything is sent, so a misspelt model costs no upstream call and answers alike on
/// every API.
/// </summary>
public static class ChatModels
{
    /// <summary>Null when <paramref name="model"/> may go to the session API's upstream named <paramref name="upstream"/>; else the refusal.</summary>
    public static ExchangeError? Check(IModelRouter router, string model, string upstream)
    {
        if (router.TryResolve(model, out _)) return null;
        // NOTE: two upstreams the gateway's table does not speak for. Without a server key the gateway has no upstream
        // of this name (callers bring their own key), so there is no table to ask and the model goes as named. An
        // Azure resource takes every name: a mapped model, else the default deployment, else the name as the deployment.
        var served = router.Upstreams.FirstOrDefault(u => string.Equals(u.Name, upstream, StringComparison.Ordinal));
        return served is null || served.Kind == UpstreamKinds.AzureOpenAi ? null : ExchangeErrors.ModelNotFound(model);
    }
}
