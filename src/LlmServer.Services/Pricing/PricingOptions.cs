namespace LlmServer.Services.Pricing;

/// <summary>Price of one model in USD per one million tokens.</summary>
public sealed record ModelPrice
{
    /// <summary>USD per 1M uncached input tokens.</summary>
    public decimal Input { get; init; }

    /// <summary>USD per 1M cached input tokens (defaults to the input price when null).</summary>
    public decimal? CachedInput { get; init; }

    /// <summary>USD per 1M output tokens (reasoning tokens included, as OpenAI bills them).</summary>
    public decimal Output { get; init; }
}

/// <summary>Configuration section LlmServer:Pricing.</summary>
public sealed class PricingOptions
{
    public const string SectionName = "LlmServer:Pricing";

    /// <summary>Model name (exact, or a dated snapshot's base name) to its price.</summary>
    public Dictionary<string, ModelPrice> Models { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>When set, costs are also given in KRW at this many won per USD.</summary>
    public decimal? KrwPerUsd { get; init; }
}
