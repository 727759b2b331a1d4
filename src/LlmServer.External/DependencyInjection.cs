using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.External;

/// <summary>Registration of everything that talks to another process: upstream clients and stores.</summary>
public static class DependencyInjection
{
    /// <summary>Adds upstream clients and the configured stores (SQLite by default, PostgreSQL, Redis).</summary>
    public static IServiceCollection AddLlmServerExternal(this IServiceCollection services, IConfiguration configuration)
    {
        // --- session chat API ---
        services.AddSessionChatExternal();

        // --- OpenAI-compatible gateway ---
        Upstreams.GatewayExternal.AddGatewayUpstreams(services);

        // --- Anthropic + masking ---
        Anthropic.AnthropicExternalServiceCollectionExtensions.AddAnthropicUpstreamHttp(services);
        services.AddMaskingVault(configuration);

        // --- operations: keys, budgets, ledger, metrics ---
        Operations.OperationsStoresExtensions.AddOperationsStores(services, configuration);

        return services;
    }
}
