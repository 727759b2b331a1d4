using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Masking.Detection;

namespace LlmServer.Services.Masking;

/// <summary>
/// Masking for one request: masks what goes upstream and restores what comes back, under the route's policy,
/// in one vault scope. Every failure surfaces as <see cref="MaskingFailedException"/> (fail closed);
/// <see cref="MaskingBlockedException"/> signals the block policy. Not thread-safe: one per request.
/// </summary>
public sealed class MaskingSession
{
    private readonly SensitiveDataScanner _scanner;
    private readonly IMaskingVault? _vault;
    private readonly Dictionary<string, string> _forward = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _reverse = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _localCounters = new(StringComparer.Ordinal);

    internal MaskingSession(MaskingPolicy policy, string scope, SensitiveDataScanner scanner, IMaskingVault? vault)
    {
        Policy = policy;
        Scope = scope;
        _scanner = scanner;
        _vault = vault;
    }

    /// <summary>The policy in force for this request.</summary>
    public MaskingPolicy Policy { get; }

    /// <summary>Whether responses need restoring (only under <see cref="MaskingPolicy.Mask"/>).</summary>
    public bool RestoresResponses => Policy == MaskingPolicy.Mask;

    /// <summary>Counts per type of everything this session masked so far.</summary>
    public MaskingSummary Summary { get; } = new();

    /// <summary>The vault scope (session, key or request); never holds a key, only a hash of it.</summary>
    public string Scope { get; }

    internal IReadOnlySet<string> KnownTypes => _scanner.Types;

    /// <summary>Masks one text under the policy.</summary>
    public async ValueTask<MaskResult> MaskAsync(string text, CancellationToken cancellationToken = default)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var masked = await MaskManyAsync([text], counts, cancellationToken).ConfigureAwait(false);
        return new MaskResult(masked[0], counts);
    }

    /// <summary>
    /// Masks, in place, every user-content string of an OpenAI chat/completions/responses body, an Anthropic
    /// messages body or a session chat body; structure (model, roles, types, ids, tool names, schemas) is left alone.
    /// Returns the counts per type for this body.
    /// </summary>
    public async ValueTask<IReadOnlyDictionary<string, int>> MaskJsonBodyAsync(JsonNode body, CancellationToken cancellationToken = default)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        if (Policy == MaskingPolicy.Off)
        {
            return counts;
        }
        List<JsonBodyMasker.Slot> slots;
        try
        {
            slots = JsonBodyMasker.Collect(body);
        }
        catch (Exception ex)
        {
            throw new MaskingFailedException("The request body could not be scanned for sensitive data.", ex);
        }
        if (slots.Count == 0)
        {
            return counts;
        }
        var texts = new string[slots.Count];
        for (var i = 0; i < slots.Count; i++)
        {
            texts[i] = slots[i].Value;
        }
        var masked = await MaskManyAsync(texts, counts, cancellationToken).ConfigureAwait(false);
        try
        {
            for (var i = 0; i < slots.Count; i++)
            {
                if (!ReferenceEquals(masked[i], texts[i]))
                {
                    slots[i].Set(masked[i]);
                }
            }
        }
        catch (Exception ex)
        {
            throw new MaskingFailedException("The request body could not be masked.", ex);
        }
        return counts;
    }

    /// <summary>Restores every known placeholder of a complete text (JSON-escaping originals when asked).</summary>
    public async ValueTask<string> RestoreAsync(string text, bool jsonEscaped = false, CancellationToken cancellationToken = default)
    {
        if (!RestoresResponses || string.IsNullOrEmpty(text))
        {
            return text;
        }
        var restorer = new StreamingRestorer(this, jsonEscaped);
        var head = await restorer.PushAsync(text, cancellationToken).ConfigureAwait(false);
        var tail = await restorer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return tail.Length == 0 ? head : head + tail;
    }

    /// <summary>
    /// A restorer for one streamed text (one per content block / tool call). With <paramref name="jsonEscaped"/>
    /// the stream is JSON text (tool-call arguments, Anthropic input_json_delta) and originals are escaped.
    /// Under policies other than mask it passes text through.
    /// </summary>
    public StreamingRestorer CreateRestorer(bool jsonEscaped = false) => new(this, jsonEscaped);

    internal async ValueTask<string?> LookupAsync(string id, CancellationToken cancellationToken)
    {
        if (Policy != MaskingPolicy.Mask)
        {
            return null;
        }
        if (_reverse.TryGetValue(id, out var original))
        {
            return original;
        }
        if (_vault is null)
        {
            return null;
        }
        try
        {
            original = await _vault.TryGetOriginalAsync(Scope, id, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new MaskingFailedException("The masking vault could not be read.", ex);
        }
        if (original is not null)
        {
            _reverse[id] = original;
            _forward[original] = id;
        }
        return original;
    }

    private async ValueTask<string[]> MaskManyAsync(IReadOnlyList<string> texts, Dictionary<string, int> counts, CancellationToken cancellationToken)
    {
        var result = new string[texts.Count];
        if (Policy == MaskingPolicy.Off)
        {
            for (var i = 0; i < texts.Count; i++)
            {
                result[i] = texts[i];
            }
            return result;
        }
        try
        {
            var detections = new List<Detection.Detection>[texts.Count];
            List<VaultEntry>? missing = null;
            HashSet<string>? missingSet = null;
            for (var i = 0; i < texts.Count; i++)
            {
                var found = _scanner.Scan(texts[i]);
                detections[i] = found;
                foreach (var d in found)
                {
                    counts[d.Type] = counts.GetValueOrDefault(d.Type) + 1;
                    if (Policy == MaskingPolicy.Mask)
                    {
                        var original = texts[i].Substring(d.Start, d.Length);
                        if (!_forward.ContainsKey(original) && (missingSet ??= new(StringComparer.Ordinal)).Add(original))
                        {
                            (missing ??= []).Add(new VaultEntry(d.Type, original));
                        }
                    }
                }
            }
            if (Policy == MaskingPolicy.Block && counts.Count > 0)
            {
                throw new MaskingBlockedException(counts);
            }
            if (missing is not null)
            {
                await AllocateAsync(missing, cancellationToken).ConfigureAwait(false);
            }
            for (var i = 0; i < texts.Count; i++)
            {
                result[i] = detections[i].Count == 0 ? texts[i] : Replace(texts[i], detections[i]);
            }
            Summary.AddRange(counts);
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not MaskingBlockedException and not MaskingFailedException)
        {
            throw new MaskingFailedException("Sensitive-data masking failed; the request was not sent.", ex);
        }
    }

    private async ValueTask AllocateAsync(List<VaultEntry> missing, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> ids;
        if (_vault is null)
        {
            var local = new string[missing.Count];
            for (var i = 0; i < missing.Count; i++)
            {
                var n = _localCounters.GetValueOrDefault(missing[i].Type) + 1;
                _localCounters[missing[i].Type] = n;
                local[i] = string.Concat(missing[i].Type, "_", n.ToString(CultureInfo.InvariantCulture));
            }
            ids = local;
        }
        else
        {
            try
            {
                ids = await _vault.GetOrAddAsync(Scope, missing, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new MaskingFailedException("The masking vault is unavailable; the request was not sent.", ex);
            }
            if (ids.Count != missing.Count)
            {
                throw new MaskingFailedException("The masking vault returned an incomplete answer; the request was not sent.");
            }
        }
        for (var i = 0; i < missing.Count; i++)
        {
            _forward[missing[i].Original] = ids[i];
            _reverse[ids[i]] = missing[i].Original;
        }
    }

    private string Replace(string text, List<Detection.Detection> found)
    {
        var sb = new StringBuilder(text.Length + found.Count * 8);
        var pos = 0;
        foreach (var d in found)
        {
            sb.Append(text, pos, d.Start - pos);
            if (Policy == MaskingPolicy.Redact)
            {
                sb.Append(Placeholders.Redaction(d.Type));
            }
            else
            {
                sb.Append("<<").Append(_forward[text.Substring(d.Start, d.Length)]).Append(">>");
            }
            pos = d.End;
        }
        sb.Append(text, pos, text.Length - pos);
        return sb.ToString();
    }
}
