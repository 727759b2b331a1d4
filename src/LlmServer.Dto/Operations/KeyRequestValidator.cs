using FluentValidation;

namespace LlmServer.Dto.Operations;

/// <summary>
/// Rules of <see cref="KeyRequestDto"/> (create and update). The admin API answers the first problem only, under
/// the one code <c>invalid_request</c>, so an operator fixes one field at a time with a precise message.
/// </summary>
public sealed class KeyRequestValidator : AbstractValidator<KeyRequestDto>
{
    /// <summary>The error code of every rule here.</summary>
    public const string Code = "invalid_request";

    private const decimal MaxUsd = 1_000_000_000;

    public KeyRequestValidator()
    {
        ClassLevelCascadeMode = CascadeMode.Stop;
        RuleFor(r => r.Name).MaximumLength(200).OverridePropertyName("name")
            .WithMessage("name must be at most 200 characters.").WithErrorCode(Code);
        RuleFor(r => r.AllowedModels).Must(m => m is null || !m.Any(string.IsNullOrWhiteSpace)).OverridePropertyName("allowed_models")
            .WithMessage("allowed_models must not contain empty names.").WithErrorCode(Code);
        RuleFor(r => r.Budget).Must(b => b is null || (InRange(b.TotalUsd) && InRange(b.MonthlyUsd) && InRange(b.DailyUsd)))
            .OverridePropertyName("budget").WithMessage("budget amounts must be between 0 and 1e9 USD.").WithErrorCode(Code);
        RuleFor(r => r).Must(r => r.Rpm is not < 0 && r.Tpm is not < 0).OverridePropertyName("rpm")
            .WithMessage("rpm and tpm must not be negative.").WithErrorCode(Code);
        RuleFor(r => r.Metadata).Must(m => m is not { Count: > 50 }).OverridePropertyName("metadata")
            .WithMessage("metadata holds at most 50 entries.").WithErrorCode(Code);
    }

    private static bool InRange(decimal? usd) => usd is null or (>= 0 and <= MaxUsd);
}
