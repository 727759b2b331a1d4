using System.Text.Json.Nodes;

namespace LlmServer.Services.Pricing;

/// <summary>
/// Token usage as the two dialects write it, read into <see cref="TokenUsage"/> (whose input counts every prompt
/// token, cached or not). Anthropic reports input_tokens without the cache, cache reads and writes beside it, and
/// the writes split by cache lifetime in <c>cache_creation</c>; OpenAI reports prompt_tokens with the cache reads
/// inside (<c>prompt_tokens_details.cached_tokens</c>, Responses: <c>input_tokens_details</c>). An OpenAI-shaped
/// usage may also carry Anthropic's cache writes beside prompt_tokens (LiteLLM does, and so does this server's
/// translation of an Anthropic answer), already counted in prompt_tokens.
/// </summary>
public static class UsageJson
{
    /// <summary>An OpenAI usage object (chat.completions or Responses shape), or null when there is none.</summary>
    public static TokenUsage? FromOpenAi(JsonNode? usage)
    {
        if (usage is not JsonObject u) return null;
        var (write5m, write1h) = CacheCreation(u);
        return new TokenUsage(
            Long(u["prompt_tokens"] ?? u["input_tokens"]),
            Long((u["prompt_tokens_details"] ?? u["input_tokens_details"])?["cached_tokens"]),
            Long(u["completion_tokens"] ?? u["output_tokens"]),
            Long((u["completion_tokens_details"] ?? u["output_tokens_details"])?["reasoning_tokens"]),
            write5m, write1h);
    }

    /// <summary>
    /// Cache writes by lifetime: <c>cache_creation</c>'s ephemeral_5m / ephemeral_1h when given, the rest of
    /// <c>cache_creation_input_tokens</c> as 5-minute writes (the lifetime Anthropic uses unless told otherwise).
    /// </summary>
    public static (long FiveMinutes, long OneHour) CacheCreation(JsonObject usage)
    {
        var total = Long(usage["cache_creation_input_tokens"]);
        var split = usage["cache_creation"] as JsonObject;
        var oneHour = Long(split?["ephemeral_1h_input_tokens"]);
        var fiveMinutes = Long(split?["ephemeral_5m_input_tokens"]);
        total = Math.Max(total, fiveMinutes + oneHour);
        return (total - oneHour, oneHour);
    }

    /// <summary>Anthropic's usage fields for cache writes, as an answer carries them (for a translated answer).</summary>
    public static void WriteAnthropicCacheCreation(JsonObject target, long fiveMinutes, long oneHour)
    {
        target["cache_creation_input_tokens"] = fiveMinutes + oneHour;
        target["cache_creation"] = new JsonObject { ["ephemeral_5m_input_tokens"] = fiveMinutes, ["ephemeral_1h_input_tokens"] = oneHour };
    }

    private static long Long(JsonNode? node) =>
        node is JsonValue v ? (v.TryGetValue<long>(out var l) ? l : v.TryGetValue<int>(out var i) ? i : v.TryGetValue<double>(out var d) ? (long)d : 0) : 0;
}
