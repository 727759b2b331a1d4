using System.Text.Json.Nodes;

namespace LlmServer.Services.Anthropic;

/// <summary>
/// How much a model should think, between Anthropic's <c>thinking</c> / <c>output_config.effort</c> and OpenAI's
/// <c>reasoning_effort</c> (accepted by OpenAI's reasoning models and vLLM). Anthropic speaks in token budgets,
/// OpenAI in levels; the buckets below are chosen so a budget survives the round trip at the same level.
/// </summary>
public static class ReasoningEffort
{
    /// <summary>A thinking budget below this is "low".</summary>
    public const int LowBelow = 4096;

    /// <summary>A thinking budget below this (and at least <see cref="LowBelow"/>) is "medium"; at or above, "high".</summary>
    public const int MediumBelow = 16384;

    /// <summary>Anthropic's smallest accepted budget_tokens.</summary>
    public const int MinimumBudget = 1024;

    /// <summary>
    /// Whether an upstream takes reasoning_effort for a model. vLLM (and other OpenAI-compatible servers) accept it
    /// for any model; OpenAI and Azure refuse it with a 400 on a model that does not reason (gpt-4o, gpt-4.1), so
    /// there it is sent only to the reasoning families (o-series, gpt-5) and otherwise dropped.
    /// </summary>
    public static bool Accepts(string upstreamKind, string upstreamModel) => upstreamKind switch
    {
        Routing.UpstreamKinds.OpenAiCompatible => true,
        Routing.UpstreamKinds.OpenAi or Routing.UpstreamKinds.AzureOpenAi => IsReasoningModel(upstreamModel),
        _ => false,
    };

    private static bool IsReasoningModel(string model) =>
        model.StartsWith("gpt-5", StringComparison.OrdinalIgnoreCase)
        || (model.Length >= 2 && model[0] is 'o' or 'O' && char.IsAsciiDigit(model[1]))
        || model.StartsWith("codex", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The reasoning_effort an Anthropic request asks for, or null when it asks for none. <c>output_config.effort</c>
    /// (low / medium / high / max) is the explicit level and wins; else <c>thinking</c>: enabled with a budget maps
    /// by bucket, adaptive takes Anthropic's default effort (high), disabled asks for nothing.
    /// </summary>
    public static string? FromAnthropic(JsonObject request)
    {
        var effort = J.Str(request["output_config"]?["effort"]);
        switch (effort)
        {
            case "low" or "medium" or "high": return effort;
            // NOTE: "max" has no OpenAI level above high that every reasoning model accepts.
            case "max": return "high";
        }
        return J.Str(request["thinking"]?["type"]) switch
        {
            "enabled" => J.Long(request["thinking"]?["budget_tokens"]) switch
            {
                null => "medium",
                < LowBelow => "low",
                < MediumBelow => "medium",
                _ => "high",
            },
            "adaptive" => "high",
            _ => null,
        };
    }

    /// <summary>
    /// The Anthropic thinking budget for an OpenAI reasoning_effort, or null for none ("none", unknown values).
    /// Each budget sits inside the bucket <see cref="FromAnthropic"/> maps back to the same level.
    /// </summary>
    public static int? BudgetFor(string? reasoningEffort) => reasoningEffort switch
    {
        "minimal" => MinimumBudget,
        "low" => 2048,
        "medium" => 8192,
        "high" or "xhigh" => MediumBelow,
        _ => null,
    };
}
