namespace LlmServer.Services.Configuration;

/// <summary>
/// The checks a settings validator runs, each adding a message that names the setting by its configuration key
/// (and its env shortcut, when it has one) so an operator knows what to fix. Values are never quoted back: a
/// setting may hold a key or a connection string.
/// </summary>
public sealed class SettingRules
{
    private readonly List<string> _errors = [];

    /// <summary>The problems found so far.</summary>
    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Adds a problem with a setting.</summary>
    public void Fail(string message) => _errors.Add(message);

    /// <summary>The value lies in [min, max].</summary>
    public void Range(string setting, long value, long min, long max)
    {
        if (value < min || value > max) _errors.Add($"{setting} must be between {min} and {max}.");
    }

    /// <summary>The value lies in [min, max].</summary>
    public void Range(string setting, double value, double min, double max)
    {
        if (double.IsNaN(value) || value < min || value > max) _errors.Add(FormattableString.Invariant($"{setting} must be between {min} and {max}."));
    }

    /// <summary>The value is at least <paramref name="min"/>.</summary>
    public void AtLeast(string setting, long value, long min)
    {
        if (value < min) _errors.Add($"{setting} must be at least {min}.");
    }

    /// <summary>The value is more than zero (seconds, ratios, prices).</summary>
    public void Positive(string setting, double? value)
    {
        if (value is { } v && (double.IsNaN(v) || v <= 0)) _errors.Add($"{setting} must be more than 0.");
    }

    /// <summary>The value is not below zero.</summary>
    public void NotNegative(string setting, double? value)
    {
        if (value is { } v && (double.IsNaN(v) || v < 0)) _errors.Add($"{setting} must not be negative.");
    }

    /// <summary>The value is set.</summary>
    public void Required(string setting, string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) _errors.Add($"{setting} is required.");
    }

    /// <summary>The value is one of <paramref name="allowed"/> (case-insensitive).</summary>
    public void OneOf(string setting, string? value, params string[] allowed)
    {
        if (value is null || !allowed.Contains(value, StringComparer.OrdinalIgnoreCase))
            _errors.Add($"{setting} must be {string.Join(", ", allowed[..^1])} or {allowed[^1]}.");
    }

    /// <summary>The value, when set (or always, with <paramref name="required"/>), is an absolute http(s) URL.</summary>
    public void HttpUrl(string setting, string? value, bool required = false)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required) _errors.Add($"{setting} is required.");
            return;
        }
        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            _errors.Add($"{setting} must be an absolute http(s) URL.");
    }

    /// <summary>The outcome for <see cref="Microsoft.Extensions.Options.IValidateOptions{TOptions}"/>.</summary>
    public Microsoft.Extensions.Options.ValidateOptionsResult Result() => _errors.Count == 0
        ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
        : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(_errors);
}

/// <summary>A settings validator: <see cref="Check"/> adds a message per bad setting; none means the section is valid.</summary>
public abstract class SettingsValidator<TOptions> : Microsoft.Extensions.Options.IValidateOptions<TOptions>
    where TOptions : class
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var rules = new SettingRules();
        Check(rules, options);
        return rules.Result();
    }

    /// <summary>Runs the checks of <paramref name="options"/>.</summary>
    protected abstract void Check(SettingRules rules, TOptions options);
}
