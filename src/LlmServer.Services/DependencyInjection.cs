using LlmServer.Services.Accounting;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Auth;
using LlmServer.Services.Chat;
using LlmServer.Services.Configuration;
using LlmServer.Services.Exchange;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Services.Masking.Detection;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using LlmServer.Services.Pricing;
using LlmServer.Services.Routing;
using LlmServer.Services.Tokens;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LlmServer.Services;

/// <summary>
/// Registration of the business services (no HTTP types live in this project). Stores and upstream clients come
/// from LlmServer.External, which implements the interfaces registered here.
/// </summary>
public static class DependencyInjection
{
    /// <summary>Environment variable that sets the masking policy of every route (overrides included).</summary>
    private const string MaskingPolicyEnvironmentVariable = "LLMSERVER_MASKING";

    /// <summary>Adds the settings and services of every concern.</summary>
    public static IServiceCollection AddLlmServerServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddAccounting();
        services.AddExchange();
        services.AddSessionChat();
        services.AddModelRouting();
        services.AddMasking();
        services.AddTelemetry();
        services.AddShutdown();
        services.AddLedger();
        services.AddKeysAndLimits();
        return services;
    }

    /// <summary>Prices, cost and token counts; usage goes nowhere until the ledger replaces the sink.</summary>
    private static void AddAccounting(this IServiceCollection services)
    {
        services.AddValidatedOptions<PricingOptions, PricingOptionsValidator>(PricingOptions.SectionName);
        services.AddSingleton<ICostCalculator, CostCalculator>();
        services.TryAddSingleton<IUsageSink, NullUsageSink>();
        services.AddSingleton<ITokenCounter, TokenCounter>();
    }

    /// <summary>The steps every API's exchange runs: admit, mask, record, settle.</summary>
    private static void AddExchange(this IServiceCollection services)
    {
        services.AddSingleton<ExchangeSteps>();
    }

    /// <summary>The session chat API: its defaults, the server's OpenAI or Azure OpenAI upstream, the chat service.</summary>
    private static void AddSessionChat(this IServiceCollection services)
    {
        services.AddValidatedOptions<ChatOptions, ChatOptionsValidator>(ChatOptions.SectionName);
        services.AddValidatedOptions<OpenAiOptions, OpenAiOptionsValidator>(OpenAiOptions.SectionName);
        services.AddValidatedOptions<AzureOpenAiOptions, AzureOpenAiOptionsValidator>(AzureOpenAiOptions.SectionName);
        services.AddSingleton<IChatService, ChatService>();
    }

    /// <summary>The one model table (configured and implicit upstreams) and who may call.</summary>
    private static void AddModelRouting(this IServiceCollection services)
    {
        services.AddValidatedOptions<GatewayOptions, GatewayOptionsValidator>(GatewayOptions.SectionName);
        foreach (var (name, section, _) in ProviderEndpointOptionsValidator.Providers)
        {
            services.AddValidatedOptions<ProviderEndpointOptions, ProviderEndpointOptionsValidator>(section, name);
        }
        services.AddSingleton<IModelRouter, ModelRouter>();
        services.AddValidatedOptions<AuthOptions, AuthOptionsValidator>(AuthOptions.SectionName);
        services.TryAddSingleton<MasterKeyAuthenticator>();
        services.TryAddSingleton<IApiKeyAuthenticator, CompositeApiKeyAuthenticator>();
    }

    /// <summary>The masking engine with the in-memory vault (LlmServer.External replaces it when a shared one is configured).</summary>
    private static void AddMasking(this IServiceCollection services)
    {
        services.AddValidatedOptions<MaskingOptions, MaskingOptionsValidator>(MaskingOptions.SectionName)
            .PostConfigure(o =>
            {
                // NOTE: the env shortcut is documented as changing the policy for all routes, so it clears overrides.
                if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(MaskingPolicyEnvironmentVariable)))
                {
                    o.Routes.Clear();
                }
            });
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new SensitiveDataScanner(sp.GetRequiredService<IOptions<MaskingOptions>>().Value));
        services.TryAddSingleton<IMaskingVault, InMemoryMaskingVault>();
        services.TryAddSingleton<IMaskingService, MaskingService>();
        services.AddHostedService<MaskingWarmup>();
    }

    /// <summary>The LlmServer meter and activity source.</summary>
    private static void AddTelemetry(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<MetricLabels>();
        services.TryAddSingleton<LlmServerMetrics>();
        services.TryAddSingleton<LlmServerTelemetry>();
    }

    /// <summary>On SIGTERM the host drains running requests for DrainSeconds, then cancels them; the ledger waits for them.</summary>
    private static void AddShutdown(this IServiceCollection services)
    {
        services.AddValidatedOptions<ShutdownOptions, ShutdownOptionsValidator>(ShutdownOptions.SectionName);
        services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>(
            (host, shutdown) => host.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.Value.DrainSeconds));
        services.TryAddSingleton<InFlightRequests>();
    }

    /// <summary>The usage ledger: rows queued in memory and written in batches to the store LlmServer.External registers.</summary>
    private static void AddLedger(this IServiceCollection services)
    {
        // NOTE: LlmServer:Operations holds the ledger's, the keys' and the limits' settings.
        services.AddValidatedOptions<OperationsOptions, OperationsOptionsValidator>(OperationsOptions.SectionName);
        services.TryAddSingleton<ChannelUsageSink>();
        services.Replace(ServiceDescriptor.Singleton<IUsageSink>(sp => sp.GetRequiredService<ChannelUsageSink>()));
        services.AddHostedService<UsageLedgerWriter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStatusContributor, LedgerStatusContributor>());
    }

    /// <summary>Virtual keys, budgets, per-key and global rate limits, and the admission that applies them.</summary>
    private static void AddKeysAndLimits(this IServiceCollection services)
    {
        services.TryAddSingleton<IVirtualKeyService, VirtualKeyService>();
        services.TryAddSingleton<IBudgetService, BudgetService>();
        services.TryAddSingleton<LocalKeyRateLimiter>();
        services.TryAddSingleton<IKeyRateLimiter>(sp => sp.GetRequiredService<LocalKeyRateLimiter>());
        services.TryAddSingleton<GlobalConcurrencyLimiter>();
        services.TryAddSingleton<IRequestAdmission, RequestAdmission>();
        services.TryAddSingleton<ProcessSampler>();
    }
}
