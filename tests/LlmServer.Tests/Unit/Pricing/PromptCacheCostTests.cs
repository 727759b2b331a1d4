using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace LlmServer.Tests.Unit.Pricing;

/// <summary>Prompt-cache reads and writes are priced apart from plain input, and survive translation both ways.</summary>
[TestFixture]
public sealed class PromptCacheCostTests
{
    private static CostCalculator Calculator(params (string Model, ModelPrice Price)[] prices)
    {
        var options = new PricingOptions();
        foreach (var (model, price) in prices) options.Models[model] = price;
        var monitor = Substitute.For<IOptionsMonitor<PricingOptions>>();
        monitor.CurrentValue.Returns(options);
        return new CostCalculator(monitor);
    }

    [Test]
    public void AnthropicCacheReadsAndWrites_ArePricedByLifetime_WithAnthropicsDefaultMultipliers()
    {
        var costs = Calculator(("claude-x", new ModelPrice { Input = 10m, Output = 50m }));
        // 1M prompt tokens: 100k uncached, 200k read, 300k written for 5 minutes, 400k for an hour; 10k out.
        var usage = new TokenUsage(1_000_000, 200_000, 10_000, 0, 300_000, 400_000);

        var cost = costs.Compute("claude-x", usage);

        // 0.1*10 + 0.2*10*0.1 + 0.3*10*1.25 + 0.4*10*2 + 0.01*50
        Assert.That(cost.Usd, Is.EqualTo(1m + 0.2m + 3.75m + 8m + 0.5m));
    }

    [Test]
    public void ConfiguredCachePrices_WinOverTheDefaults()
    {
        var costs = Calculator(("claude-x", new ModelPrice { Input = 10m, CachedInput = 2m, CacheWrite5m = 11m, CacheWrite1h = 12m, Output = 0m }));

        var cost = costs.Compute("claude-x", new TokenUsage(4_000_000, 1_000_000, 0, 0, 1_000_000, 1_000_000));

        Assert.That(cost.Usd, Is.EqualTo(10m + 2m + 11m + 12m));
    }

    [Test]
    public void OpenAiCachedTokens_UseTheModelsCachedPrice_AndAnUnpricedCacheCostsFullInput()
    {
        var costs = Calculator(("gpt-x", new ModelPrice { Input = 2m, CachedInput = 0.5m, Output = 0m }), ("local", new ModelPrice { Input = 1m, Output = 0m }));

        Assert.That(costs.Compute("gpt-x", new TokenUsage(2_000_000, 1_000_000, 0)).Usd, Is.EqualTo(2.5m));
        Assert.That(costs.Compute("local", new TokenUsage(2_000_000, 1_000_000, 0)).Usd, Is.EqualTo(2m));
    }

    [Test]
    public void CacheCountsLargerThanThePrompt_NeverPriceATokenTwice()
    {
        var costs = Calculator(("claude-x", new ModelPrice { Input = 1m, Output = 0m }));

        var cost = costs.Compute("claude-x", new TokenUsage(1_000_000, 0, 0, 0, 5_000_000, 5_000_000));

        Assert.That(cost.Usd, Is.EqualTo(1.25m), "all of the prompt as 5-minute writes, nothing more");
    }

    [Test]
    public void AnthropicUsage_TranslatedToOpenAi_CountsTheCacheInPromptTokens_AndKeepsTheWritesBeside()
    {
        var usage = MessagesToChatResponse.Usage(JsonNode.Parse("""
            {"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":50,
             "cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30}}
            """));

        Assert.That((long?)usage["prompt_tokens"], Is.EqualTo(160));
        Assert.That((long?)usage["prompt_tokens_details"]!["cached_tokens"], Is.EqualTo(100));
        Assert.That((long?)usage["cache_creation_input_tokens"], Is.EqualTo(50));
        Assert.That(UsageJson.FromOpenAi(usage), Is.EqualTo(new TokenUsage(160, 100, 5, 0, 20, 30)));
    }

    [Test]
    public void OpenAiCachedTokens_TranslatedToAnthropic_AreCacheReads_OutsideInputTokens()
    {
        var usage = ChatToMessagesResponse.Usage(JsonNode.Parse("""
            {"prompt_tokens":160,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":100}}
            """));

        Assert.That((long?)usage["input_tokens"], Is.EqualTo(60));
        Assert.That((long?)usage["cache_read_input_tokens"], Is.EqualTo(100));
        Assert.That((long?)usage["cache_creation_input_tokens"], Is.EqualTo(0));
    }

    [Test]
    public void CacheWritesWithoutALifetimeSplit_CountAsFiveMinuteWrites()
    {
        var scanner = new AnthropicUsageScanner(stream: false);
        scanner.Feed("""{"usage":{"input_tokens":10,"output_tokens":1,"cache_creation_input_tokens":40,"cache_read_input_tokens":0}}"""u8);
        scanner.Complete();

        Assert.That(scanner.Usage, Is.EqualTo(new TokenUsage(50, 0, 1, 0, 40, 0)));
    }
}
