using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Pricing;

/// <summary>Token counts of one call, as the upstream reported them.</summary>
/// <param name="InputTokens">All prompt tokens: uncached, read from the prompt cache and written to it.</param>
/// <param name="CachedTokens">The part of <paramref name="InputTokens"/> read from the prompt cache.</param>
/// <param name="OutputTokens">Completion tokens, reasoning included.</param>
/// <param name="ReasoningTokens">The part of <paramref name="OutputTokens"/> spent on reasoning.</param>
/// <param name="CacheCreation5mTokens">The part of <paramref name="InputTokens"/> written to Anthropic's 5-minute prompt cache.</param>
/// <param name="CacheCreation1hTokens">The part of <paramref name="InputTokens"/> written to Anthropic's 1-hour prompt cache.</param>
public readonly record struct TokenUsage(long InputTokens, long CachedTokens, long OutputTokens, long ReasoningTokens = 0,
    long CacheCreation5mTokens = 0, long CacheCreation1hTokens = 0)
{
    public long TotalTokens => InputTokens + OutputTokens;

    /// <summary>Tokens written to the prompt cache, both lifetimes.</summary>
    public long CacheCreationTokens => CacheCreation5mTokens + CacheCreation1hTokens;
}

/// <summary>A cost, or null with a warning when the price is unknown (never a wrong number).</summary>
public readonly record struct Cost(decimal? Usd, decimal? Krw, string? Warning);

/// <summary>Prices a call from the pricing table.</summary>
public interface ICostCalculator
{
    /// <summary>The price of a model, resolving dated snapshots (gpt-4o-2024-08-06 -> gpt-4o).</summary>
    bool TryGetPrice(string model, out ModelPrice price);

    /// <summary>The cost of a call.</summary>
    Cost Compute(string model, TokenUsage usage);
}

/// <inheritdoc />
public sealed partial class CostCalculator(IOptionsMonitor<PricingOptions> options) : ICostCalculator
{
    private const decimal PerMillion = 1_000_000m;

    /// <inheritdoc />
    public bool TryGetPrice(string model, out ModelPrice price)
    {
        var models = options.CurrentValue.Models;
        if (models.TryGetValue(model, out price!))
        {
            return true;
        }
        // NOTE: providers answer with dated snapshot names (gpt-4o-mini-2024-07-18, claude-3-5-haiku-20241022).
        var baseName = DateSuffix().Replace(model, "");
        if (baseName.Length != model.Length && models.TryGetValue(baseName, out price!))
        {
            return true;
        }
        price = null!;
        return false;
    }

    /// <inheritdoc />
    public Cost Compute(string model, TokenUsage usage)
    {
        if (!TryGetPrice(model, out var price))
        {
            return new Cost(null, null, $"No price configured for model '{model}' (LlmServer:Pricing:Models); cost not computed.");
        }
        // NOTE: each cached part is clamped into what is left of the prompt, so an upstream's odd report never prices a token twice.
        var read = Math.Clamp(usage.CachedTokens, 0, usage.InputTokens);
        var write5m = Math.Clamp(usage.CacheCreation5mTokens, 0, usage.InputTokens - read);
        var write1h = Math.Clamp(usage.CacheCreation1hTokens, 0, usage.InputTokens - read - write5m);
        var uncached = usage.InputTokens - read - write5m - write1h;
        var usd = (uncached * price.Input + read * (price.CachedInput ?? CacheReadDefault(model, price))
            + write5m * (price.CacheWrite5m ?? price.Input * ModelPrice.CacheWrite5mFactor)
            + write1h * (price.CacheWrite1h ?? price.Input * ModelPrice.CacheWrite1hFactor)
            + usage.OutputTokens * price.Output) / PerMillion;
        usd = decimal.Round(usd, 8);
        var rate = options.CurrentValue.KrwPerUsd;
        return new Cost(usd, rate is decimal r ? decimal.Round(usd * r, 4) : null, null);
    }

    /// <summary>Anthropic prices every Claude model's cache reads at a tenth of its input; elsewhere an unknown discount is none.</summary>
    private static decimal CacheReadDefault(string model, ModelPrice price) =>
        model.StartsWith("claude-", StringComparison.OrdinalIgnoreCase) ? price.Input * ModelPrice.AnthropicCacheReadFactor : price.Input;

    [GeneratedRegex(@"-(\d{4}-\d{2}-\d{2}|\d{8})$")]
    private static partial Regex DateSuffix();
}
