using System.Text;
using System.Text.RegularExpressions;
using LlmServer.Services.Masking;
using LlmServer.Services.Masking.Detection;
using NLog;
using NLog.LayoutRenderers;
using NLog.LayoutRenderers.Wrappers;

namespace LlmServer.Api.Logging;

/// <summary>
/// ${redact:inner=...}: blanks anything that looks like a provider key or bearer token, and every value the
/// masking scanner finds in prompts (phone numbers, registration numbers, e-mail addresses, cards, custom
/// detectors ...), so a model name, session id or path a client chose never reaches a log sink in clear.
/// </summary>
[LayoutRenderer("redact")]
public sealed partial class RedactSecretsWrapper : WrapperLayoutRendererBase
{
    // NOTE: NLog's configuration is process-wide, so the scanner is too: the built-in detectors until the host
    // has started, then the host's configured scanner (custom detectors, allow list, disabled types).
    private static volatile SensitiveDataScanner s_scanner = new(new MaskingOptions());

    /// <summary>Registers the wrapper and the redacting JSON layout with NLog (idempotent).</summary>
    public static void Register() =>
        NLog.LogManager.Setup().SetupExtensions(e =>
        {
            e.RegisterLayoutRenderer<RedactSecretsWrapper>("redact");
            e.RegisterLayout<RedactingJsonLayout>("RedactingJsonLayout");
        });

    /// <summary>Uses the host's masking detectors for every later log line.</summary>
    public static void UseScanner(SensitiveDataScanner scanner) => s_scanner = scanner;

    /// <summary>The text with secrets replaced by [REDACTED] and sensitive values by [REDACTED_TYPE].</summary>
    public static string Redact(string text)
    {
        var withoutSecrets = Secrets().Replace(text, m => m.Groups["prefix"].Value + "[REDACTED]");
        var found = s_scanner.Scan(withoutSecrets);
        if (found.Count == 0) return withoutSecrets;
        var sb = new StringBuilder(withoutSecrets.Length);
        var at = 0;
        foreach (var d in found)
        {
            sb.Append(withoutSecrets, at, d.Start - at).Append(Placeholders.Redaction(d.Type));
            at = d.End;
        }
        return sb.Append(withoutSecrets, at, withoutSecrets.Length - at).ToString();
    }

    /// <inheritdoc />
    protected override string Transform(string text) => Redact(text);

    [GeneratedRegex(@"(?<prefix>)(?:sk-[A-Za-z0-9_\-]{6,}|AKIA[A-Z0-9]{12,})|(?<prefix>(?:Bearer|x-api-key:|api-key:)\s+)[^\s"",]+", RegexOptions.IgnoreCase)]
    private static partial Regex Secrets();
}

/// <summary>
/// The JSON log line with <see cref="RedactSecretsWrapper.Redact"/> applied to all of it: the message and also
/// the event properties (Model, SessionId, Path ...) that JsonLayout writes next to it, which a wrapper on the
/// message attribute alone would leave in clear.
/// </summary>
public sealed class RedactingJsonLayout : NLog.Layouts.JsonLayout
{
    /// <inheritdoc />
    protected override void RenderFormattedMessage(LogEventInfo logEvent, StringBuilder target)
    {
        var line = new StringBuilder(256);
        base.RenderFormattedMessage(logEvent, line);
        target.Append(RedactSecretsWrapper.Redact(line.ToString()));
    }

    /// <inheritdoc />
    protected override string GetFormattedMessage(LogEventInfo logEvent)
    {
        var line = new StringBuilder(256);
        base.RenderFormattedMessage(logEvent, line);
        return RedactSecretsWrapper.Redact(line.ToString());
    }
}
