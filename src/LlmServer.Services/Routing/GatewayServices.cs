using LlmServer.Services.Auth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Routing;

/// <summary>Registration of the gateway's business side.</summary>
public static class GatewayServices
{
    /// <summary>Options, the model router and the API key authenticator.</summary>
    public static IServiceCollection AddGatewayServices(this IServiceCollection services)
    {
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton<IModelRouter, ModelRouter>();
        services.TryAddSingleton<MasterKeyAuthenticator>();
        services.TryAddSingleton<IApiKeyAuthenticator, CompositeApiKeyAuthenticator>();
        return services;
    }
}
