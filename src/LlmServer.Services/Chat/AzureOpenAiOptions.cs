using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Chat;

/// <summary>
/// Configuration section LlmServer:AzureOpenAi: one Azure OpenAI resource. With an endpoint set, the session chat
/// API talks to it instead of OpenAI, and the gateway gets an <c>azure_openai</c> upstream named "azure".
/// </summary>
public sealed partial class AzureOpenAiOptions
{
    public const string SectionName = "LlmServer:AzureOpenAi";

    /// <summary>The v1 API surface, addressed as {endpoint}/openai/v1/...; needs no api-version.</summary>
    public const string V1 = "v1";

    /// <summary>Resource endpoint, e.g. https://myresource.openai.azure.com (env AZURE_OPENAI_ENDPOINT). Empty: Azure is off.</summary>
    public string Endpoint { get; set; } = "";

    /// <summary>The resource's key, sent in the api-key header (env AZURE_OPENAI_API_KEY). Never logged.</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>
    /// Deployment used for a model that <see cref="Deployments"/> does not map (env AZURE_OPENAI_DEPLOYMENT).
    /// Empty: the model name is taken as the deployment name.
    /// </summary>
    public string Deployment { get; set; } = "";

    /// <summary>Model name to deployment name, for resources whose deployments are not named after their model.</summary>
    public Dictionary<string, string> Deployments { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// "v1" (default): the v1 endpoint style. A dated version such as 2025-04-01-preview selects the classic style
    /// (/openai/deployments/{deployment}/...?api-version=...) (env AZURE_OPENAI_API_VERSION).
    /// </summary>
    public string ApiVersion { get; set; } = V1;

    /// <summary>Upstream timeout of the session chat API in seconds; when exceeded the call answers 504.</summary>
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>True when an endpoint is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Endpoint);

    /// <summary>True for the classic deployment style (a dated api-version).</summary>
    public bool Classic => IsClassic(ApiVersion);

    /// <summary>The deployment a model is served by.</summary>
    public string DeploymentFor(string model) =>
        Deployments.TryGetValue(model, out var mapped) && !string.IsNullOrWhiteSpace(mapped) ? mapped
        : !string.IsNullOrWhiteSpace(Deployment) ? Deployment
        : model;

    /// <summary>True when <paramref name="apiVersion"/> names a dated (classic) version rather than v1.</summary>
    public static bool IsClassic(string? apiVersion) =>
        !string.IsNullOrWhiteSpace(apiVersion) && !string.Equals(apiVersion.Trim(), V1, StringComparison.OrdinalIgnoreCase);

    /// <summary>True for "v1" or a dated version (2024-10-21, 2025-04-01-preview).</summary>
    public static bool IsValidApiVersion(string? apiVersion) =>
        string.IsNullOrWhiteSpace(apiVersion) || !IsClassic(apiVersion) || DatedVersion().IsMatch(apiVersion.Trim());

    /// <summary>
    /// The API root the clients address: {resource}/openai/v1 (v1 style) or {resource}/openai (classic style).
    /// An endpoint pasted with its /openai or /openai/v1 suffix is accepted too; any other path (a proxy in front
    /// of the resource) is used as given.
    /// </summary>
    public static string ApiBase(string endpoint, string? apiVersion)
    {
        var b = endpoint.Trim().TrimEnd('/');
        var classic = IsClassic(apiVersion);
        if (b.EndsWith("/openai/v1", StringComparison.OrdinalIgnoreCase)) return classic ? b[..^"/v1".Length] : b;
        if (b.EndsWith("/openai", StringComparison.OrdinalIgnoreCase)) return classic ? b : b + "/v1";
        if (Uri.TryCreate(b, UriKind.Absolute, out var uri) && uri.AbsolutePath is "" or "/") return b + (classic ? "/openai" : "/openai/v1");
        return b;
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(-preview)?$")]
    private static partial Regex DatedVersion();
}

/// <summary>Fails the start with a message naming the bad LlmServer:AzureOpenAi setting and its env shortcut.</summary>
public sealed class AzureOpenAiOptionsValidator : IValidateOptions<AzureOpenAiOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureOpenAiOptions options)
    {
        const string at = AzureOpenAiOptions.SectionName;
        var errors = new List<string>();
        if (!AzureOpenAiOptions.IsValidApiVersion(options.ApiVersion))
            errors.Add($"{at}:ApiVersion (AZURE_OPENAI_API_VERSION) must be \"v1\" or a dated version such as 2025-04-01-preview.");
        if (options.TimeoutSeconds is < 1 or > 3600)
            errors.Add($"{at}:TimeoutSeconds must be between 1 and 3600.");
        if (options.Enabled)
        {
            if (!Uri.TryCreate(options.Endpoint.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                errors.Add($"{at}:Endpoint (AZURE_OPENAI_ENDPOINT) must be an absolute http(s) URL such as https://myresource.openai.azure.com.");
            if (string.IsNullOrWhiteSpace(options.ApiKey))
                errors.Add($"{at}:ApiKey (AZURE_OPENAI_API_KEY) is required when {at}:Endpoint is set.");
        }
        foreach (var (model, deployment) in options.Deployments)
        {
            if (string.IsNullOrWhiteSpace(deployment)) errors.Add($"{at}:Deployments:{model} must name a deployment.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
