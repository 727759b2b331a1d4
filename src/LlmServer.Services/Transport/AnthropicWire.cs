namespace LlmServer.Services.Transport;

/// <summary>The Anthropic Messages API's paths, relative to the base URL as every <see cref="UpstreamRequest"/> path is.</summary>
public static class AnthropicWire
{
    /// <summary>POST messages: create a message.</summary>
    public const string Messages = "messages";

    /// <summary>POST messages/count_tokens.</summary>
    public const string CountTokens = "messages/count_tokens";

    /// <summary>True for a path of the Anthropic wire.</summary>
    public static bool IsAnthropicPath(string path) => path.StartsWith(Messages, StringComparison.Ordinal);
}
