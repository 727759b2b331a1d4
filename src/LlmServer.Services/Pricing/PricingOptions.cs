namespace LlmServer.Services.Pricing;

/// <summary>Price of one model in USD per one million tokens.</summary>
public sealed record ModelPrice
{
    /// <summary>USD per 1M uncached input tokens.</summary>
    public decimal Input { get; init; }

    /// <summary>
    /// USD per 1M input tokens read from the prompt cache (OpenAI: the model's cached price). Null: for a claude-*
    /// model <see cref="AnthropicCacheReadFactor"/> x input, for any other the input price, so an unknown
    /// discount never under-counts.
    /// </summary>
    public decimal? CachedInput { get; init; }

    /// <summary>USD per 1M input tokens written to Anthropic's 5-minute prompt cache; null: <see cref="CacheWrite5mFactor"/> x input.</summary>
    public decimal? CacheWrite5m { get; init; }

    /// <summary>USD per 1M input tokens written to Anthropic's 1-hour prompt cache; null: <see cref="CacheWrite1hFactor"/> x input.</summary>
    public decimal? CacheWrite1h { get; init; }

    /// <summary>Anthropic's price of a cache read, relative to the input price.</summary>
    public const decimal AnthropicCacheReadFactor = 0.1m;

    /// <summary>Anthropic's price of a 5-minute cache write, relative to the input price.</summary>
    public const decimal CacheWrite5mFactor = 1.25m;

    /// <summary>Anthropic's price of a 1-hour cache write, relative to the input price.</summary>
    public const decimal CacheWrite1hFactor = 2m;

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
