using LlmServer.Services.Anthropic;
using LlmServer.Services.Configuration;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Routing;

/// <summary>
/// The provider sections that create the implicit upstreams (LlmServer:Anthropic, LlmServer:Vllm, LlmServer:OpenAi),
/// bound as named <see cref="ProviderEndpointOptions"/>; fails the start naming the bad setting and its env shortcut.
/// </summary>
public sealed class ProviderEndpointOptionsValidator : IValidateOptions<ProviderEndpointOptions>
{
    /// <summary>(options name, configuration section, env shortcut of the base URL) of each provider.</summary>
    public static readonly (string Name, string Section, string UrlEnv)[] Providers =
    [
        (ProviderEndpointOptions.Anthropic, "LlmServer:Anthropic", "ANTHROPIC_BASE_URL"),
        (ModelRouter.ImplicitVllm, "LlmServer:Vllm", "VLLM_BASE_URL"),
        (ModelRouter.ImplicitOpenAi, Chat.OpenAiOptions.SectionName, "OPENAI_BASE_URL"),
    ];

    public ValidateOptionsResult Validate(string? name, ProviderEndpointOptions options)
    {
        // NOTE: LlmServer:OpenAi is also bound as OpenAiOptions, whose validator names its problems once.
        if (name is null or ModelRouter.ImplicitOpenAi) return ValidateOptionsResult.Skip;
        var (_, at, urlEnv) = Array.Find(Providers, p => p.Name == name);
        if (at is null) return ValidateOptionsResult.Skip;
        var rules = new SettingRules();
        rules.HttpUrl($"{at}:BaseUrl ({urlEnv})", options.BaseUrl);
        if (options.TimeoutSeconds is { } timeout) rules.Range($"{at}:TimeoutSeconds", timeout, 0.001, 3600);
        if (options.ResponsesApi is { Length: > 0 } mode && mode is not (ResponsesApiModes.Native or ResponsesApiModes.Translate))
            rules.Fail($"{at}:ResponsesApi must be \"native\" or \"translate\".");
        return rules.Result();
    }
}
