using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;

namespace LlmServer.Dto.Anthropic;

/// <summary>
/// A /v1/messages or /v1/messages/count_tokens body as parsed. The JSON itself is the request: it goes upstream
/// byte for byte (unknown fields included), so only the fields checked here are ever read.
/// </summary>
/// <param name="Json">The parsed body (null for an empty one).</param>
/// <param name="CountTokens">True on count_tokens, which takes no <c>max_tokens</c>.</param>
public sealed record MessagesRequestBody(JsonNode? Json, bool CountTokens = false);

/// <summary>
/// Rules of a Messages request, checked before anything is sent upstream. Like Anthropic, the answer names the first
/// problem only, with the field's path (<c>messages.2.role</c>) in the message.
/// </summary>
public sealed class MessagesRequestValidator : AbstractValidator<MessagesRequestBody>
{
    public MessagesRequestValidator()
    {
        ClassLevelCascadeMode = CascadeMode.Stop;
        RuleFor(r => r.Json).Must(j => j is JsonObject).OverridePropertyName("body")
            .WithMessage("The request body must be a JSON object.");
        RuleFor(r => Str(r.Json!["model"])).NotEmpty().OverridePropertyName("model")
            .WithMessage("model: Field required (a non-empty string).");
        RuleFor(r => r.Json!["max_tokens"]).NotNull().Unless(r => r.CountTokens).OverridePropertyName("max_tokens")
            .WithMessage("max_tokens: Field required.");
        RuleFor(r => r.Json!["max_tokens"]).Must(n => Long(n) is > 0).Unless(r => r.CountTokens).OverridePropertyName("max_tokens")
            .WithMessage("max_tokens: Input should be a positive integer.");
        RuleFor(r => r.Json!["messages"]).Must(m => m is JsonArray).OverridePropertyName("messages")
            .WithMessage("messages: Field required (a list of messages).");
        RuleFor(r => r.Json!["messages"]!.AsArray()).NotEmpty().OverridePropertyName("messages")
            .WithMessage("messages: at least one message is required.");
        RuleFor(r => r.Json!["messages"]!.AsArray()).Must(m => FirstMessageProblem(m) is null).OverridePropertyName("messages")
            .WithMessage((_, m) => FirstMessageProblem(m));
        RuleFor(r => r.Json!["stream"]).Must(s => s is null || s.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            .OverridePropertyName("stream").WithMessage("stream: Input should be a valid boolean.");
    }

    private static string? FirstMessageProblem(JsonArray messages)
    {
        for (var i = 0; i < messages.Count; i++)
        {
            var problem = messages[i] is not JsonObject m ? $"messages.{i}: Input should be an object."
                // NOTE: Claude Code sends a "system" turn inside messages (per-turn instructions); it is routed like the rest.
                : Str(m["role"]) is not ("user" or "assistant" or "system") ? $"messages.{i}.role: Input should be 'user', 'assistant' or 'system'."
                : m["content"] is not (JsonArray or JsonValue) ? $"messages.{i}.content: Field required."
                : null;
            if (problem is not null)
            {
                return problem;
            }
        }
        return null;
    }

    private static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static long? Long(JsonNode? node) =>
        node is JsonValue v ? (v.TryGetValue<long>(out var l) ? l : v.TryGetValue<double>(out var d) ? (long)d : null) : null;
}
