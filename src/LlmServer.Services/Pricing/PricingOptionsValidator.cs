using LlmServer.Services.Configuration;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Pricing;

/// <summary>Fails the start with a message naming the bad LlmServer:Pricing setting: a negative price would pay the caller.</summary>
public sealed class PricingOptionsValidator : IValidateOptions<PricingOptions>
{
    public ValidateOptionsResult Validate(string? name, PricingOptions options)
    {
        const string at = PricingOptions.SectionName;
        var rules = new SettingRules();
        rules.Positive($"{at}:KrwPerUsd", (double?)options.KrwPerUsd);
        foreach (var (model, price) in options.Models)
        {
            rules.NotNegative($"{at}:Models:{model}:Input", (double)price.Input);
            rules.NotNegative($"{at}:Models:{model}:CachedInput", (double?)price.CachedInput);
            rules.NotNegative($"{at}:Models:{model}:Output", (double)price.Output);
        }
        return rules.Result();
    }
}
