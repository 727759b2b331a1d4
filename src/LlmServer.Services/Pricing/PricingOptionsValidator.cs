using LlmServer.Services.Configuration;

namespace LlmServer.Services.Pricing;

/// <summary>Fails the start with a message naming the bad LlmServer:Pricing setting: a negative price would pay the caller.</summary>
public sealed class PricingOptionsValidator : SettingsValidator<PricingOptions>
{
    protected override void Check(SettingRules rules, PricingOptions options)
    {
        const string at = PricingOptions.SectionName;
        rules.Positive($"{at}:KrwPerUsd", (double?)options.KrwPerUsd);
        foreach (var (model, price) in options.Models)
        {
            rules.NotNegative($"{at}:Models:{model}:Input", (double)price.Input);
            rules.NotNegative($"{at}:Models:{model}:CachedInput", (double?)price.CachedInput);
            rules.NotNegative($"{at}:Models:{model}:Output", (double)price.Output);
        }
    }
}
