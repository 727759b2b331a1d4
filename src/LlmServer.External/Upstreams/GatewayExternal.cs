using LlmServer.Services.Transport;
using LlmServer.Services.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.External.Upstreams;

/// <summary>Registration of the gateway's upstream side.</summary>
public static class GatewayExternal
{
    /// <summary>Connection pools, protocols per kind, the resilient forwarder and model discovery.</summary>
    public static IServiceCollection AddGatewayUpstreams(this IServiceCollection services)
    {
        services.AddSingleton<UpstreamHttpClients>();
        services.AddSingleton<IUpstreamProtocol>(new OpenAiProtocol(UpstreamKinds.OpenAi));
        services.AddSingleton<IUpstreamProtocol>(new OpenAiProtocol(UpstreamKinds.OpenAiCompatible));
        services.AddSingleton<IUpstreamProtocol, AzureOpenAiProtocol>();
        services.AddSingleton<IUpstreamProtocol, AnthropicProtocol>();
        services.AddSingleton<UpstreamProtocols>();
        services.AddSingleton<IUpstreamForwarder, UpstreamForwarder>();
        services.AddHostedService<ModelDiscoveryService>();
        return services;
    }
}
