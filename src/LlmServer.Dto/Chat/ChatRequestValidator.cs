using FluentValidation;

namespace LlmServer.Dto.Chat;

/// <summary>Rules of <see cref="ChatRequest"/>; messages are English, the host localizes the error code.</summary>
public sealed class ChatRequestValidator : AbstractValidator<ChatRequest>
{
    private static readonly string[] s_roles = ["user", "assistant", "system", "developer"];

    /// <summary>Longest session id; the exchange core's limit for every API's conversation id.</summary>
    public const int MaxSessionIdLength = 128;

    /// <summary>
    /// The exchange core's conversation id rule (ExchangeSteps.IsValidSessionId, which this project cannot see):
    /// 1 to 128 printable ASCII characters. The id keys stored history and vault scopes, so it is refused, never cut.
    /// </summary>
    public static bool IsValidSessionId(string value)
    {
        if (value.Length is 0 or > MaxSessionIdLength) return false;
        foreach (var c in value)
        {
            if (c is < '!' or > '~') return false;
        }
        return true;
    }

    public ChatRequestValidator()
    {
        RuleFor(r => r.EffectiveUserPrompt).NotEmpty().OverridePropertyName("user_prompt")
            .WithMessage("user_prompt (or user_message) is required and must not be empty.").WithErrorCode("user_prompt_required");
        RuleFor(r => r.Temperature).InclusiveBetween(0, 2).When(r => r.Temperature is not null)
            .OverridePropertyName("temperature").WithMessage("temperature must be between 0 and 2.").WithErrorCode("temperature_range");
        RuleFor(r => r.MaxTokens).InclusiveBetween(1, 1_000_000).When(r => r.MaxTokens is not null)
            .OverridePropertyName("max_tokens").WithMessage("max_tokens must be between 1 and 1000000.").WithErrorCode("max_tokens_range");
        RuleFor(r => r.OpenAiApiKey).NotEmpty().When(r => r.UseUserApiKey)
            .OverridePropertyName("openai_api_key").WithMessage("openai_api_key is required when use_user_api_key is true.").WithErrorCode("user_api_key_required");
        RuleFor(r => r.EffectiveSessionId).Must(id => id is null || IsValidSessionId(id)).OverridePropertyName("session_id")
            .WithMessage($"session_id must be 1 to {MaxSessionIdLength} printable ASCII characters without spaces.").WithErrorCode("invalid_session_id");
        RuleFor(r => r.Model).MaximumLength(200).OverridePropertyName("model")
            .WithMessage("model must be at most 200 characters.").WithErrorCode("model_too_long");
        RuleForEach(r => r.ConversationHistory).NotNull().OverridePropertyName("conversation_history")
            .WithMessage("conversation_history entries must not be null.").WithErrorCode("history_entry_null");
        RuleForEach(r => r.ConversationHistory).ChildRules(m =>
            m.RuleFor(x => x.Role).Must(role => s_roles.Contains(role))
                .WithMessage("conversation_history[].role must be user, assistant, system or developer.").WithErrorCode("history_role_invalid"))
            .OverridePropertyName("conversation_history");
        RuleFor(r => r).Must(r => !(r.Stream && r.Background)).OverridePropertyName("background")
            .WithMessage("stream and background cannot both be true.").WithErrorCode("stream_background_conflict");
    }
}
