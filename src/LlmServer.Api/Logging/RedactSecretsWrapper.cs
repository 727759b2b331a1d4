using NLog;
using System.Text.RegularExpressions;
using NLog.LayoutRenderers;
using NLog.LayoutRenderers.Wrappers;

namespace LlmServer.Api.Logging;

/// <summary>
/// ${redact:inner=...}: blanks anything that looks like a provider key or bearer token, so a key that slips into a
/// message or exception text never reaches a log sink.
/// </summary>
[LayoutRenderer("redact")]
public sealed partial class RedactSecretsWrapper : WrapperLayoutRendererBase
{
    /// <summary>Registers the wrapper with NLog (idempotent).</summary>
    public static void Register() =>
        NLog.LogManager.Setup().SetupExtensions(e => e.RegisterLayoutRenderer<RedactSecretsWrapper>("redact"));

    /// <summary>The text with secrets replaced by [REDACTED].</summary>
    public static string Redact(string text) => Secrets().Replace(text, m => m.Groups["prefix"].Value + "[REDACTED]");

    /// <inheritdoc />
    protected override string Transform(string text) => Redact(text);

    [GeneratedRegex(@"(?<prefix>)(?:sk-[A-Za-z0-9_\-]{6,}|AKIA[A-Z0-9]{12,})|(?<prefix>(?:Bearer|x-api-key:|api-key:)\s+)[^\s"",]+", RegexOptions.IgnoreCase)]
    private static partial Regex Secrets();
}
