using System.Globalization;

namespace LlmServer.Services.Routing;

/// <summary>What a request's token counts mean for a deployment's context window.</summary>
public enum ContextVerdict
{
    /// <summary>No known limit, no max_tokens, or prompt and max_tokens fit together: the request goes as sent.</summary>
    Fits,

    /// <summary>The prompt fits but prompt + max_tokens does not: max_tokens is lowered to what is left.</summary>
    Clamped,

    /// <summary>The prompt alone fills the context: no answer is possible, the request is refused.</summary>
    PromptTooLong,
}

/// <summary>The decision for one request; <see cref="MaxTokens"/> is what to send when <see cref="Verdict"/> is Clamped.</summary>
/// <param name="Verdict">What to do.</param>
/// <param name="PromptTokens">The estimated prompt tokens.</param>
/// <param name="ContextLength">The deployment's context length (0 when unknown).</param>
/// <param name="RequestedMaxTokens">max_tokens as the client sent it (null when absent).</param>
/// <param name="MaxTokens">max_tokens to send upstream (the request's when not clamped).</param>
public readonly record struct ContextDecision(ContextVerdict Verdict, long PromptTokens, int ContextLength, long? RequestedMaxTokens, long? MaxTokens)
{
    /// <summary>
    /// Response header telling the client its max_tokens was lowered: <c>original-&gt;new</c>. A client that asked
    /// for more than the model can write learns why the answer stopped at the length it did.
    /// </summary>
    public const string ClampedHeader = "x-llmserver-max-tokens-clamped";

    /// <summary>The value of <see cref="ClampedHeader"/>.</summary>
    public string ClampedHeaderValue => string.Create(CultureInfo.InvariantCulture, $"{RequestedMaxTokens}->{MaxTokens}");

    /// <summary>Anthropic's wording for a prompt over the context (Claude Code recognises it and compacts the conversation).</summary>
    public string AnthropicMessage => string.Create(CultureInfo.InvariantCulture, $"prompt is too long: {PromptTokens} tokens > {ContextLength} maximum");

    /// <summary>OpenAI's wording for code context_length_exceeded.</summary>
    public string OpenAiMessage => string.Create(CultureInfo.InvariantCulture,
        $"This model's maximum context length is {ContextLength} tokens. However, your messages resulted in {PromptTokens} tokens. Please reduce the length of the messages.");
}

/// <summary>
/// Fits a request into a deployment's context window (configured MaxModelLen, or vLLM's discovered
/// max_model_len): an OpenAI-style server refuses prompt + max_tokens over its context with a 400, while coding
/// agents ask for the largest max_tokens they know (Claude Code: 32000 to 128000) whatever the model. Lowering
/// max_tokens to what is left keeps the request answerable; the prompt count is the server's estimate.
/// </summary>
public static class ContextLimits
{
    /// <summary>True when the decision needs the prompt counted (a limit is known and max_tokens was given).</summary>
    public static bool Applies(int? contextLength, long? maxTokens) => contextLength is > 0 && maxTokens is > 0;

    /// <summary>The decision for a prompt of <paramref name="promptTokens"/> asking for <paramref name="maxTokens"/>.</summary>
    public static ContextDecision Decide(int? contextLength, long promptTokens, long? maxTokens)
    {
        if (contextLength is not > 0) return new ContextDecision(ContextVerdict.Fits, promptTokens, 0, maxTokens, maxTokens);
        var limit = contextLength.Value;
        if (promptTokens >= limit) return new ContextDecision(ContextVerdict.PromptTooLong, promptTokens, limit, maxTokens, maxTokens);
        if (maxTokens is long requested && requested > limit - promptTokens)
        {
            return new ContextDecision(ContextVerdict.Clamped, promptTokens, limit, requested, limit - promptTokens);
        }
        return new ContextDecision(ContextVerdict.Fits, promptTokens, limit, maxTokens, maxTokens);
    }
}
