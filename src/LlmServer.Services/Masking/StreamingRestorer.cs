using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmServer.Services.Masking;

/// <summary>
/// Restores placeholders in a streamed answer, one delta at a time. Text is emitted at once except a suffix
/// that could still become a known placeholder (at most a few dozen characters), which is held until it is
/// decided or <see cref="FlushAsync"/> is called. Only ids present in the vault are restored; anything else,
/// including placeholders the model invented, passes through unchanged. Not thread-safe: one per stream.
/// </summary>
public sealed class StreamingRestorer
{
    private static readonly SearchValues<char> s_open = SearchValues.Create("<\uFF1C");
    private readonly MaskingSession _session;
    private readonly bool _jsonEscaped;
    private string _pending = "";

    internal StreamingRestorer(MaskingSession session, bool jsonEscaped)
    {
        _session = session;
        _jsonEscaped = jsonEscaped;
    }

    /// <summary>Characters currently held back.</summary>
    public int PendingLength => _pending.Length;

    /// <summary>Feeds a delta; returns the text that can be emitted now (possibly empty).</summary>
    public ValueTask<string> PushAsync(string delta, CancellationToken cancellationToken = default)
    {
        if (_pending.Length == 0 && (!_session.RestoresResponses || delta.AsSpan().IndexOfAny(s_open) < 0))
        {
            return ValueTask.FromResult(delta);
        }
        var buffer = _pending.Length == 0 ? delta : string.Concat(_pending, delta);
        _pending = "";
        return ProcessAsync(buffer, final: false, cancellationToken);
    }

    /// <summary>Ends the stream; returns whatever was held back.</summary>
    public ValueTask<string> FlushAsync(CancellationToken cancellationToken = default)
    {
        var rest = _pending;
        _pending = "";
        return ValueTask.FromResult(rest);
    }

    private async ValueTask<string> ProcessAsync(string buffer, bool final, CancellationToken cancellationToken)
    {
        try
        {
            var sb = new StringBuilder(buffer.Length + 16);
            var i = 0;
            while (i < buffer.Length)
            {
                var rel = buffer.AsSpan(i).IndexOfAny(s_open);
                if (rel < 0)
                {
                    sb.Append(buffer, i, buffer.Length - i);
                    break;
                }
                var j = i + rel;
                sb.Append(buffer, i, j - i);
                var outcome = Placeholders.Parse(buffer, j, _session.KnownTypes, out var id, out var length);
                if (outcome == Placeholders.Outcome.Partial && !final)
                {
                    _pending = buffer[j..];
                    break;
                }
                if (outcome == Placeholders.Outcome.Complete)
                {
                    var original = await _session.LookupAsync(id, cancellationToken).ConfigureAwait(false);
                    if (original is not null)
                    {
                        sb.Append(_jsonEscaped ? JsonEscape(original) : original);
                    }
                    else
                    {
                        sb.Append(buffer, j, length);
                    }
                    i = j + length;
                    continue;
                }
                sb.Append(buffer[j]);
                i = j + 1;
            }
            return sb.ToString();
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not MaskingFailedException)
        {
            throw new MaskingFailedException("Restoring masked values failed.", ex);
        }
    }

    internal static string JsonEscape(string value)
    {
        var encoded = JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        return encoded.Value;
    }
}
