using LlmServer.Services.Masking;
using LlmServer.Services.Masking.Detection;
using Microsoft.Extensions.Options;

namespace LlmServer.Tests.Unit.Masking;

/// <summary>Builds the real masking engine for unit tests.</summary>
internal static class MaskingKit
{
    private static readonly Lazy<SensitiveDataScanner> s_default = new(() => new SensitiveDataScanner(new MaskingOptions()));

    /// <summary>The scanner for the options (the default one is shared: building one compiles ~25 regexes).</summary>
    public static SensitiveDataScanner Scanner(MaskingOptions? options = null) =>
        options is null || IsDefault(options) ? s_default.Value : new(options);

    private static bool IsDefault(MaskingOptions o) =>
        o.CustomDetectors.Count == 0 && o.AllowList.Count == 0 && o.DisabledTypes.Count == 0;

    public static MaskingService Service(MaskingOptions? options = null, IMaskingVault? vault = null)
    {
        options ??= new MaskingOptions();
        var wrapped = Options.Create(options);
        return new MaskingService(wrapped, Scanner(options), vault ?? new InMemoryMaskingVault(wrapped, TimeProvider.System));
    }

    /// <summary>A session with a vault scope (API key), as the gateway uses it.</summary>
    public static MaskingSession Session(MaskingOptions? options = null, IMaskingVault? vault = null, string apiKey = "test-key") =>
        Service(options, vault).Begin(MaskingRoute.Messages, apiKey: apiKey);

    /// <summary>Type and value of each detection.</summary>
    public static List<(string Type, string Value)> Find(string text, MaskingOptions? options = null) =>
        Scanner(options).Scan(text).Select(d => (d.Type, text.Substring(d.Start, d.Length))).ToList();
}
