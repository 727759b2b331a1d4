using LlmServer.Services.Configuration;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Operations;

/// <summary>Fails the start with a message naming the bad LlmServer:Operations setting.</summary>
public sealed class OperationsOptionsValidator : IValidateOptions<OperationsOptions>
{
    public ValidateOptionsResult Validate(string? name, OperationsOptions options)
    {
        const string at = OperationsOptions.SectionName;
        var rules = new SettingRules();
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
        return rules.Result();
    }
}

/// <summary>Fails the start with a message naming the bad LlmServer:Shutdown setting.</summary>
public sealed class ShutdownOptionsValidator : IValidateOptions<ShutdownOptions>
{
    public ValidateOptionsResult Validate(string? name, ShutdownOptions options)
    {
        var rules = new SettingRules();
        rules.Range($"{ShutdownOptions.SectionName}:DrainSeconds", options.DrainSeconds, 1, 3600);
        return rules.Result();
    }
}
