using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmServer.Services;

/// <summary>Registration of business services (no HTTP types live in this project).</summary>
public static class DependencyInjection
{
    /// <summary>Adds options and services of every feature area.</summary>
    public static IServiceCollection AddLlmServerServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<Pricing.PricingOptions>().BindConfiguration(Pricing.PricingOptions.SectionName);
        services.AddSingleton<Pricing.ICostCalculator, Pricing.CostCalculator>();
        services.TryAddSingleton<Accounting.IUsageSink, Accounting.NullUsageSink>();
        services.AddSingleton<Tokens.ITokenCounter, Tokens.TokenCounter>();
        services.AddSingleton<Exchange.ExchangeSteps>();

        // --- session chat API ---
        Chat.ChatServiceRegistration.AddSessionChat(services);

        // --- OpenAI-compatible gateway ---
        Routing.GatewayServices.AddGatewayServices(services);

        // --- Anthropic + masking ---
        Anthropic.AnthropicServiceCollectionExtensions.AddAnthropicMessages(services, configuration);
        services.AddMasking(configuration);

        // --- operations: keys, budgets, ledger, metrics ---
        Operations.OperationsServiceCollectionExtensions.AddOperations(services, configuration);

        return services;
    }
}
