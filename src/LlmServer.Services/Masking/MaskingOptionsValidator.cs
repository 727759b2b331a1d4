using Microsoft.Extensions.Options;

namespace LlmServer.Services.Masking;

/// <summary>Fails the start with a message naming the bad LlmServer:Masking setting.</summary>
public sealed class MaskingOptionsValidator : IValidateOptions<MaskingOptions>
{
    public ValidateOptionsResult Validate(string? name, MaskingOptions options)
    {
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
