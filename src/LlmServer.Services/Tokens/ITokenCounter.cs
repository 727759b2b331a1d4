using LlmServer.Services.Keys;

namespace LlmServer.Services.Tokens;

/// <summary>
/// The one token counter of the server: every prompt-size figure (admission's tpm estimate and budget
/// reservation on every API surface, <c>/v1/messages/count_tokens</c> on translated routes) comes from it.
/// Thread-safe; registered once.
/// </summary>
public interface ITokenCounter
{
    /// <summary>Which tokenizer counts for <paramref name="model"/> (the upstream's model name).</summary>
    TokenEncoding EncodingFor(string? model);

    /// <summary>Tokens of one text.</summary>
    long CountText(string? model, string? text);

    /// <summary>
    /// Prompt tokens of a JSON request body of any supported dialect (OpenAI chat, completions, responses,
    /// embeddings; Anthropic messages): the free-text fields, tool definitions, a fixed amount per attachment
    /// and the per-message framing. Structure (keys, ids, roles, settings) is not counted.
    /// </summary>
    long CountRequest(string? model, ReadOnlySpan<byte> utf8Json);
}

/// <summary>The tokenizer behind a count.</summary>
public enum TokenEncoding
{
    /// <summary>A model this server has no tokenizer for (claude-*, vLLM models): the documented character-class estimate.</summary>
    Estimate,
    /// <summary>OpenAI's o200k_base (gpt-4o, gpt-4.1, gpt-5, o-series).</summary>
    O200kBase,
    /// <summary>OpenAI's cl100k_base (gpt-4, gpt-3.5, ada-002 and text-embedding-3 embeddings).</summary>
    Cl100kBase,
}

/// <summary>Admission's use of the counter.</summary>
public static class AdmissionTokens
{
    /// <summary>
    /// The prompt estimate admission needs: only a key with a tpm limit or a budget uses it, so for every other
    /// caller the body is not tokenized at all (0).
    /// </summary>
    public static long For(this ITokenCounter counter, VirtualKey? key, string? model, ReadOnlySpan<byte> utf8Json) =>
        Needed(key) ? counter.CountRequest(model, utf8Json) : 0;

    /// <summary>The prompt estimate of a session chat call: its composed instructions and every input message.</summary>
    public static long For(this ITokenCounter counter, VirtualKey? key, Chat.UpstreamRequest call)
    {
        if (!Needed(key))
        {
            return 0;
        }
        var total = counter.CountText(call.Model, call.Instructions) + TokenCounter.ReplyPriming;
        foreach (var message in call.Input)
        {
            total += TokenCounter.PerMessage + counter.CountText(call.Model, message.Content);
        }
        return total;
    }

    private static bool Needed(VirtualKey? key) => key is not null && (key.Spec.Tpm is > 0 || key.Spec.Budget.Any);
}
