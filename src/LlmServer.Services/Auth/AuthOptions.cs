using LlmServer.Services.Configuration;

namespace LlmServer.Services.Auth;

/// <summary>Configuration section LlmServer:Auth.</summary>
public sealed record AuthOptions
{
    public const string SectionName = "LlmServer:Auth";

    /// <summary>Longest key a caller may present; a longer master key could never be matched.</summary>
    public const int MaxKeyLength = 1024;

    /// <summary>The admin key (env LLMSERVER_MASTER_KEY). Empty: the server runs open. Never logged.</summary>
    public string MasterKey { get; init; } = "";
}

/// <summary>Fails the start with a message naming the bad LlmServer:Auth setting.</summary>
public sealed class AuthOptionsValidator : SettingsValidator<AuthOptions>
{
    protected override void Check(SettingRules rules, AuthOptions options)
    {
        if (options.MasterKey is { Length: > AuthOptions.MaxKeyLength })
            rules.Fail($"{AuthOptions.SectionName}:MasterKey (LLMSERVER_MASTER_KEY) must be at most {AuthOptions.MaxKeyLength} characters.");
    }
}
