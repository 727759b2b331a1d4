using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Pricing;

/// <summary>Token counts of one call, as the upstream reported them.</summary>
/// <param name="InputTokens">All prompt tokens, cached ones included.</param>
/// <param name="CachedTokens">The part of <paramref name="InputTokens"/> served from the prompt cache.</param>
/// <param name="OutputTokens">Completion tokens, reasoning included.</param>
/// <param name="ReasoningTokens">The part of <paramref name="OutputTokens"/> spent on reasoning.</param>
public readonly record struct TokenUsage(long InputTokens, long CachedTokens, long OutputTokens, long ReasoningTokens = 0)
{
    public long TotalTokens => InputTokens + OutputTokens;
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
        var cached = Math.Clamp(usage.CachedTokens, 0, usage.InputTokens);
        var uncached = usage.InputTokens - cached;
        var usd = (uncached * price.Input + cached * (price.CachedInput ?? price.Input) + usage.OutputTokens * price.Output) / PerMillion;
        usd = decimal.Round(usd, 8);
        var rate = options.CurrentValue.KrwPerUsd;
        return new Cost(usd, rate is decimal r ? decimal.Round(usd * r, 4) : null, null);
    }

    [GeneratedRegex(@"-(\d{4}-\d{2}-\d{2}|\d{8})$")]
    private static partial Regex DateSuffix();
}
