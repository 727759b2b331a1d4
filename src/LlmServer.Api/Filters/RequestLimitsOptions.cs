using LlmServer.Services.Configuration;

namespace LlmServer.Api.Filters;

/// <summary>LlmServer:Limits: request limits of the session chat and operations APIs (/api/v1, /dashboard).</summary>
public sealed record RequestLimitsOptions
{
    public const string SectionName = "LlmServer:Limits";

    /// <summary>Largest request body accepted, in bytes; the wire-compatible /v1 APIs use LlmServer:Gateway:MaxRequestBodyBytes.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;
}

/// <summary>Fails the start with a message naming the bad LlmServer:Limits setting.</summary>
public sealed class RequestLimitsOptionsValidator : SettingsValidator<RequestLimitsOptions>
{
    protected override void Check(SettingRules rules, RequestLimitsOptions options)
    {
        rules.AtLeast($"{RequestLimitsOptions.SectionName}:MaxRequestBodyBytes", options.MaxRequestBodyBytes, 1);
    }
}
