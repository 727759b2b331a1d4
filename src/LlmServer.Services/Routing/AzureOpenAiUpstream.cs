using LlmServer.Services.Chat;

namespace LlmServer.Services.Routing;

/// <summary>
/// The gateway's view of LlmServer:AzureOpenAi (AZURE_OPENAI_*): an implicit <c>azure_openai</c> upstream named
/// "azure", serving each mapped model under its public name and the default deployment under its own name.
/// </summary>
public static class AzureOpenAiUpstream
{
    internal const string ImplicitName = "azure";

    /// <summary>The implicit upstream, or null when no Azure endpoint is configured.</summary>
    public static UpstreamOptions? Implicit(AzureOpenAiOptions o)
    {
        if (!o.Enabled) return null;
        return new UpstreamOptions
        {
            Name = ImplicitName,
            Kind = UpstreamKinds.AzureOpenAi,
            BaseUrl = o.Endpoint,
            ApiKey = o.ApiKey,
            ApiVersion = o.ApiVersion,
        };
    }

    /// <summary>(public model, deployment) pairs the implicit upstream serves.</summary>
    public static IEnumerable<(string Model, string Deployment)> Models(AzureOpenAiOptions o)
    {
        foreach (var (model, deployment) in o.Deployments)
        {
            if (!string.IsNullOrWhiteSpace(deployment)) yield return (model, deployment);
        }
        if (!string.IsNullOrWhiteSpace(o.Deployment)) yield return (o.Deployment, o.Deployment);
    }

    /// <summary>
    /// Where an API path (chat/completions, responses/{id}) of a deployment is served. The v1 style needs nothing
    /// but the base URL; the classic style puts the deployment in the path of the model-scoped APIs and api-version
    /// on every call, while the Responses and Models APIs are resource-wide (the body names the deployment).
    /// </summary>
    public static Uri RequestUri(UpstreamDefinition upstream, string deployment, string path)
    {
        if (upstream.ApiVersion is not { } version) return new Uri(upstream.BaseUrl + "/" + path);
        var query = (path.Contains('?') ? "&api-version=" : "?api-version=") + Uri.EscapeDataString(version);
        return path.StartsWith("responses", StringComparison.Ordinal) || path.StartsWith("models", StringComparison.Ordinal)
            ? new Uri(upstream.BaseUrl + "/" + path + query)
            : new Uri(upstream.BaseUrl + "/deployments/" + Uri.EscapeDataString(deployment) + "/" + path + query);
    }

    /// <summary>The API root for an azure_openai upstream: {resource}/openai/v1, or {resource}/openai for a dated api-version.</summary>
    public static string NormaliseBaseUrl(string baseUrl, string? apiVersion) => AzureOpenAiOptions.ApiBase(baseUrl, apiVersion);
}
