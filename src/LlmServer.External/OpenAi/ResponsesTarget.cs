using System.ClientModel;
using System.ClientModel.Primitives;
using LlmServer.Services.Chat;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmServer.External.OpenAi;

/// <summary>
/// Where the session chat API's Responses calls go and how they authenticate: OpenAI (Bearer key) or an
/// Azure OpenAI resource (api-key header; v1 style {endpoint}/openai/v1/responses, or classic style
/// {endpoint}/openai/responses?api-version=...). The setting names let errors tell the operator what to fix.
/// </summary>
internal sealed record ResponsesTarget
{
    /// <summary>Upstream name in the usage ledger.</summary>
    public required string Name { get; init; }
    /// <summary>Name the caller sees in errors about their own key ("OpenAI", "Azure OpenAI").</summary>
    public required string Provider { get; init; }
    /// <summary>API root the SDK appends /responses to.</summary>
    public required Uri Endpoint { get; init; }
    public required string ServerKey { get; init; }
    /// <summary>Header carrying the key; null: Authorization: Bearer.</summary>
    public string? KeyHeader { get; init; }
    /// <summary>api-version query parameter (Azure classic style); null: none.</summary>
    public string? ApiVersion { get; init; }
    public required int TimeoutSeconds { get; init; }
    /// <summary>The model name as the upstream knows it (an Azure deployment).</summary>
    public Func<string, string> UpstreamModel { get; init; } = static m => m;
    public required string KeyEnv { get; init; }
    public required string UrlSetting { get; init; }
    public required string UrlEnv { get; init; }
    public required string TimeoutSetting { get; init; }

    public static ResponsesTarget OpenAi(OpenAiOptions o) => new()
    {
        Name = "openai",
        Provider = "OpenAI",
        Endpoint = new Uri(o.BaseUrl),
        ServerKey = o.ApiKey,
        TimeoutSeconds = o.TimeoutSeconds,
        KeyEnv = "OPENAI_API_KEY",
        UrlSetting = "LlmServer:OpenAi:BaseUrl",
        UrlEnv = "OPENAI_BASE_URL",
        TimeoutSetting = "LlmServer:OpenAi:TimeoutSeconds",
    };

    public static ResponsesTarget Azure(AzureOpenAiOptions o) => new()
    {
        Name = "azure",
        Provider = "Azure OpenAI",
        Endpoint = new Uri(AzureOpenAiOptions.ApiBase(o.Endpoint, o.ApiVersion)),
        ServerKey = o.ApiKey,
        KeyHeader = "api-key",
        ApiVersion = o.Classic ? o.ApiVersion.Trim() : null,
        TimeoutSeconds = o.TimeoutSeconds,
        UpstreamModel = o.DeploymentFor,
        KeyEnv = "AZURE_OPENAI_API_KEY",
        UrlSetting = "LlmServer:AzureOpenAi:Endpoint",
        UrlEnv = "AZURE_OPENAI_ENDPOINT",
        TimeoutSetting = "LlmServer:AzureOpenAi:TimeoutSeconds",
    };

    /// <summary>The SDK's authentication policy for a key: Bearer, or the target's key header.</summary>
    public AuthenticationPolicy Authentication(string apiKey) => KeyHeader is null
        ? ApiKeyAuthenticationPolicy.CreateBearerAuthorizationPolicy(new ApiKeyCredential(apiKey))
        : ApiKeyAuthenticationPolicy.CreateHeaderApiKeyPolicy(new ApiKeyCredential(apiKey), KeyHeader);
}

/// <summary>Appends api-version to every request URI, as Azure's classic endpoints require.</summary>
internal sealed class ApiVersionPolicy(string apiVersion) : PipelinePolicy
{
    private readonly string _query = "api-version=" + Uri.EscapeDataString(apiVersion);

    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        AddVersion(message);
        ProcessNext(message, pipeline, currentIndex);
    }

    public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        AddVersion(message);
        return ProcessNextAsync(message, pipeline, currentIndex);
    }

    private void AddVersion(PipelineMessage message)
    {
        if (message.Request.Uri is not { } uri) return;
        var builder = new UriBuilder(uri);
        builder.Query = string.IsNullOrEmpty(builder.Query) ? _query : builder.Query.TrimStart('?') + "&" + _query;
        message.Request.Uri = builder.Uri;
    }
}

/// <summary>The session chat API's upstream: the Azure OpenAI resource when LlmServer:AzureOpenAi:Endpoint is set, else OpenAI.</summary>
internal static class ResponsesUpstreamFactory
{
    public static IResponsesUpstream Create(IServiceProvider services)
    {
        var azure = services.GetRequiredService<IOptions<AzureOpenAiOptions>>().Value;
        var target = azure.Enabled
            ? ResponsesTarget.Azure(azure)
            : ResponsesTarget.OpenAi(services.GetRequiredService<IOptions<OpenAiOptions>>().Value);
        return new OpenAiResponsesUpstream(target, services.GetRequiredService<ILogger<OpenAiResponsesUpstream>>());
    }
}
