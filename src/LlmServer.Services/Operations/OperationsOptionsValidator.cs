using LlmServer.Services.Configuration;

namespace LlmServer.Services.Operations;

/// <summary>Fails the start with a message naming the bad LlmServer:Operations setting.</summary>
public sealed class OperationsOptionsValidator : SettingsValidator<OperationsOptions>
{
    protected override void Check(SettingRules rules, OperationsOptions options)
    {
        const string at = OperationsOptions.SectionName;
        rules.AtLeast($"{at}:KeyCacheSeconds", options.KeyCacheSeconds, 0);
        rules.AtLeast($"{at}:Ledger:QueueCapacity", options.Ledger.QueueCapacity, 1);
        rules.AtLeast($"{at}:Ledger:BatchSize", options.Ledger.BatchSize, 1);
        rules.AtLeast($"{at}:Ledger:FlushIntervalMs", options.Ledger.FlushIntervalMs, 1);
        rules.AtLeast($"{at}:RateLimits:GlobalConcurrency", options.RateLimits.GlobalConcurrency, 0);
        rules.AtLeast($"{at}:RateLimits:GlobalQueue", options.RateLimits.GlobalQueue, 0);
        rules.AtLeast($"{at}:RateLimits:GlobalRetryAfterSeconds", options.RateLimits.GlobalRetryAfterSeconds, 0);
        rules.OneOf($"{at}:RateLimits:Backend", options.RateLimits.Backend, "auto", "local", "redis", "postgres");
        rules.AtLeast($"{at}:Budgets:DefaultMaxOutputTokens", options.Budgets.DefaultMaxOutputTokens, 1);
        rules.OneOf($"{at}:Budgets:UnknownPrice", options.Budgets.UnknownPrice, "allow", "deny");
    }
}

/// <summary>Fails the start with a message naming the bad LlmServer:Shutdown setting.</summary>
public sealed class ShutdownOptionsValidator : SettingsValidator<ShutdownOptions>
{
    protected override void Check(SettingRules rules, ShutdownOptions options)
    {
        rules.Range($"{ShutdownOptions.SectionName}:DrainSeconds", options.DrainSeconds, 1, 3600);
    }
}
