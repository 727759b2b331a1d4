using LlmServer.Services.Masking;
using LlmServer.Services.Masking.Detection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

// NOTE: in the DI namespace so DependencyInjection.cs needs no extra using (fewer merge conflicts).
namespace LlmServer.Services;

/// <summary>Registration of the masking engine.</summary>
public static class MaskingServiceCollectionExtensions
{
    /// <summary>Environment variable that sets the policy of every route (overrides included).</summary>
    public const string PolicyEnvironmentVariable = "LLMSERVER_MASKING";

    /// <summary>Adds options (validated at start), the scanner, the in-memory vault (External may replace it) and the service.</summary>
    public static IServiceCollection AddMasking(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MaskingOptions>()
            .BindConfiguration(MaskingOptions.SectionName)
            .PostConfigure(o =>
            {
                // NOTE: the env shortcut is documented as changing the policy for all routes, so it clears overrides.
                if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(PolicyEnvironmentVariable)))
                {
                    o.Routes.Clear();
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<MaskingOptions>, MaskingOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new SensitiveDataScanner(sp.GetRequiredService<IOptions<MaskingOptions>>().Value));
        services.TryAddSingleton<IMaskingVault, InMemoryMaskingVault>();
        services.TryAddSingleton<IMaskingService, MaskingService>();
        services.AddHostedService<MaskingWarmup>();
        return services;
    }

    private sealed class MaskingOptionsValidator : IValidateOptions<MaskingOptions>
    {
        public ValidateOptionsResult Validate(string? name, MaskingOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
