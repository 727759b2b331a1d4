using LlmServer.Services.Configuration;

namespace LlmServer.Services.Chat;

/// <summary>Fails the start with a message naming the bad LlmServer:Chat setting.</summary>
public sealed class ChatOptionsValidator : SettingsValidator<ChatOptions>
{
    protected override void Check(SettingRules rules, ChatOptions options)
    {
        const string at = ChatOptions.SectionName;
        rules.Required($"{at}:DefaultModel", options.DefaultModel);
        rules.Range($"{at}:MaxTokens", options.MaxTokens, 1, 1_000_000);
        rules.Range($"{at}:Temperature", options.Temperature, 0.0, 2.0);
        if (options.DefaultLanguage is not ("ko" or "en")) rules.Fail($"{at}:DefaultLanguage must be ko or en.");
        rules.Range($"{at}:History:MaxTurns", options.History.MaxTurns, 0, 1000);
        rules.Range($"{at}:History:MaxChars", options.History.MaxChars, 0, 10_000_000);
    }
}

/// <summary>Fails the start with a message naming the bad LlmServer:OpenAi setting and its env shortcut.</summary>
public sealed class OpenAiOptionsValidator : SettingsValidator<OpenAiOptions>
{
    protected override void Check(SettingRules rules, OpenAiOptions options)
    {
        const string at = OpenAiOptions.SectionName;
        rules.HttpUrl($"{at}:BaseUrl (OPENAI_BASE_URL)", options.BaseUrl, required: true);
        rules.Range($"{at}:TimeoutSeconds", options.TimeoutSeconds, 1, 3600);
    }
}
