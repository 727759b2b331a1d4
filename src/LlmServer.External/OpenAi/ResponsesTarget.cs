using System.ClientModel;
using System.ClientModel.Primitives;
using LlmServer.Services.Chat;
using LlmServer.Services.Routing;
using LlmServer.Services.Transport;
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
    /// <summary>Upstream kind as the transport knows it (openai, azure_openai).</summary>
    public required string Kind { get; init; }
    /// <summary>The base URL or endpoint as configured (the transport resolves it as the gateway does).</summary>
    public required string ConfiguredUrl { get; init; }
    /// <summary>The configured api-version (Azure); null: none.</summary>
    public string? ApiVersion { get; init; }
    public required int TimeoutSeconds { get; init; }
    /// <summary>The model name as the upstream knows it (an Azure deployment).</summary>
    public Func<string, string> UpstreamModel { get; init; } = static m => m;
    public required string KeyEnv { get; init; }
    public required string UrlEnv { get; init; }

    public static ResponsesTarget OpenAi(OpenAiOptions o) => new()
    {
        Name = "openai",
        Kind = UpstreamKinds.OpenAi,
        ConfiguredUrl = o.BaseUrl,
        Provider = "OpenAI",
        Endpoint = new Uri(o.BaseUrl),
        ServerKey = o.ApiKey,
        TimeoutSeconds = o.TimeoutSeconds,
        KeyEnv = "OPENAI_API_KEY",
        UrlEnv = "OPENAI_BASE_URL",
    };

    public static ResponsesTarget Azure(AzureOpenAiOptions o) => new()
    {
        Name = "azure",
        Kind = UpstreamKinds.AzureOpenAi,
        ConfiguredUrl = o.Endpoint,
        Provider = "Azure OpenAI",
        Endpoint = new Uri(AzureOpenAiOptions.ApiBase(o.Endpoint, o.ApiVersion)),
        ServerKey = o.ApiKey,
        KeyHeader = "api-key",
        ApiVersion = o.ApiVersion,
        TimeoutSeconds = o.TimeoutSeconds,
        UpstreamModel = o.DeploymentFor,
        KeyEnv = "AZURE_OPENAI_API_KEY",
        UrlEnv = "AZURE_OPENAI_ENDPOINT",
    };

    /// <summary>The SDK's authentication policy for a key: Bearer, or the target's key header.</summary>
    public AuthenticationPolicy Authentication(string apiKey) => KeyHeader is null
        ? ApiKeyAuthenticationPolicy.CreateBearerAuthorizationPolicy(new ApiKeyCredential(apiKey))
        : ApiKeyAuthenticationPolicy.CreateHeaderApiKeyPolicy(new ApiKeyCredential(apiKey), KeyHeader);
}

/// <summary>
/// The session chat API's upstream: the Azure OpenAI resource when LlmServer:AzureOpenAi:Endpoint is set, else
/// OpenAI; its calls go through the shared upstream transport.
/// </summary>
internal static class ResponsesUpstreamFactory
{
    public static IResponsesUpstream Create(IServiceProvider services)
    {
        var azure = services.GetRequiredService<IOptions<AzureOpenAiOptions>>().Value;
        var target = azure.Enabled
            ? ResponsesTarget.Azure(azure)
            : ResponsesTarget.OpenAi(services.GetRequiredService<IOptions<OpenAiOptions>>().Value);
        var gateway = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var upstream = ChatUpstreamRoute.Upstream(services.GetRequiredService<IModelRouter>(), gateway, target.Name, target.Kind, target.ConfiguredUrl, target.ApiVersion);
        var transport = new TransportHandler(services.GetRequiredService<IUpstreamForwarder>(), target, upstream, gateway.CircuitBreaker);
        return new OpenAiResponsesUpstream(target, transport, services.GetRequiredService<ILogger<OpenAiResponsesUpstream>>());
    }
}
