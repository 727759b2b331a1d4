using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace LlmServer.Dto;

/// <summary>What is wrong with a request body, in words a client can act on, and the top-level field it is in.</summary>
public readonly record struct JsonBodyProblem(string Message, string? Field);

/// <summary>
/// The checks a request body passes before any part of the server reads values out of it: UTF-8 throughout,
/// no lone UTF-16 surrogate escapes in any string, nesting within <see cref="JsonLimits.MaxDepth"/>, no key
/// twice in one object. <see cref="SkipValue"/> walks one value with an existing reader, so a caller that
/// already reads the body once (the gateway's scan) adds the checks to that same pass.
/// </summary>
public ref struct JsonBodyCheck
{
    private int[] _nameStarts;
    private int[] _nameLengths;
    private int _names;
    private readonly int[] _frames;
    private int _depth;
    private int _topStart;
    private int _topLength;

    /// <summary>Reader options for a checked pass: one level more than the limit, so the check (not the reader) names it.</summary>
    public static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = JsonLimits.MaxDepth + 1, CommentHandling = JsonCommentHandling.Disallow };

    private JsonBodyCheck(int initialNames)
    {
        _nameStarts = ArrayPool<int>.Shared.Rent(initialNames);
        _nameLengths = ArrayPool<int>.Shared.Rent(initialNames);
        _frames = ArrayPool<int>.Shared.Rent(JsonLimits.MaxDepth + 2);
        _names = 0;
        _depth = 0;
        _topStart = -1;
    }

    /// <summary>Starts a checked pass (call <see cref="Dispose"/> when done).</summary>
    public static JsonBodyCheck Begin() => new(64);

    /// <summary>The problem found so far, if any.</summary>
    public JsonBodyProblem? Problem { get; private set; }

    /// <summary>Checks a whole body on its own; null when it passes. Not UTF-8 is checked first, for the whole body.</summary>
    public static JsonBodyProblem? Validate(ReadOnlySpan<byte> body)
    {
        if (CheckUtf8(body) is { } encoding) return encoding;
        var check = Begin();
        try
        {
            var reader = new Utf8JsonReader(body, ReaderOptions);
            if (!reader.Read()) return null;
            check.SkipValue(ref reader, body);
            return check.Problem;
        }
        catch (JsonException)
        {
            // NOTE: syntax errors are the parser's to report, with its position; this check only adds what it misses.
            return check.Problem;
        }
        finally
        {
            check.Dispose();
        }
    }

    /// <summary>Not UTF-8 anywhere in the body (one vectorised pass), with the top-level field it is in.</summary>
    public static JsonBodyProblem? CheckUtf8(ReadOnlySpan<byte> body)
    {
        if (Utf8.IsValid(body)) return null;
        var at = FirstInvalidUtf8(body);
        var field = TopLevelFieldAt(body, at);
        return new JsonBodyProblem(field is null
            ? $"The request body is not valid UTF-8 (byte {at})."
            : $"'{field}' contains text that is not valid UTF-8 (byte {at}); send the body as UTF-8.", field);
    }

    /// <summary>Registers a property name of the object being read (reader on a PropertyName token).</summary>
    public bool OnProperty(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        if (reader.CurrentDepth == 1)
        {
            _topStart = (int)reader.TokenStartIndex + 1;
            _topLength = reader.ValueSpan.Length;
        }
        if (reader.ValueIsEscaped && HasLoneSurrogate(reader.ValueSpan))
        {
            Fail(body, "A key in {0} contains an invalid Unicode escape (a lone surrogate \\uD800-\\uDFFF).");
            return false;
        }
        if (_names == _nameStarts.Length) Grow();
        _nameStarts[_names] = (int)reader.TokenStartIndex + 1;
        _nameLengths[_names] = reader.ValueSpan.Length;
        _names++;
        return true;
    }

    /// <summary>Enters an object whose names are checked for duplicates at its end (reader on its StartObject).</summary>
    public bool EnterObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        if (reader.CurrentDepth >= JsonLimits.MaxDepth)
        {
            Fail(body, TooDeep);
            return false;
        }
        _frames[_depth++] = _names;
        return true;
    }

    /// <summary>Leaves the current object: false when one of its keys appears twice.</summary>
    public bool LeaveObject(ReadOnlySpan<byte> body)
    {
        var start = _frames[--_depth];
        var duplicate = FindDuplicate(body, start, _names);
        _names = start;
        if (duplicate is null) return true;
        if (_depth == 0)
        {
            Problem = new JsonBodyProblem($"The key '{duplicate}' appears more than once in the request body; send each key once.", duplicate);
        }
        else
        {
            Fail(body, "The key '" + duplicate.Replace("{", "{{").Replace("}", "}}") + "' appears more than once in an object inside {0}; send each key once.");
        }
        return false;
    }

    private static readonly string TooDeep = "{0} nests deeper than " + JsonLimits.MaxDepth.ToString(System.Globalization.CultureInfo.InvariantCulture) + " levels (objects and arrays); flatten it.";

    /// <summary>Records a problem; {0} becomes the top-level field it is in.</summary>
    private void Fail(ReadOnlySpan<byte> body, string template)
    {
        string? field = _topStart >= 0 ? Name(body.Slice(_topStart, _topLength)) : null;
        Problem = new JsonBodyProblem(string.Format(System.Globalization.CultureInfo.InvariantCulture, template, field is null ? "the request body" : $"'{field}'"), field);
    }

    /// <summary>Walks the value the reader is on (its first token) to its end, checking it; false on the first problem.</summary>
    public bool SkipValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        var baseDepth = reader.CurrentDepth;
        while (true)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    if (!EnterObject(ref reader, body)) return false;
                    break;
                case JsonTokenType.StartArray:
                    if (reader.CurrentDepth >= JsonLimits.MaxDepth)
                    {
                        Fail(body, TooDeep);
                        return false;
                    }
                    break;
                case JsonTokenType.EndObject:
                    if (!LeaveObject(body)) return false;
                    break;
                case JsonTokenType.PropertyName:
                    if (!OnProperty(ref reader, body)) return false;
                    break;
                case JsonTokenType.String:
                    if (!CheckString(ref reader, body)) return false;
                    break;
            }
            if (reader.CurrentDepth == baseDepth && reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray or JsonTokenType.PropertyName)) return true;
            if (!reader.Read()) return true;
        }
    }

    /// <summary>Checks a string value the caller reads itself (reader on a String token).</summary>
    public bool CheckString(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        if (!reader.ValueIsEscaped || !HasLoneSurrogate(reader.ValueSpan)) return true;
        Fail(body, "{0} contains a string with an invalid Unicode escape (a lone surrogate \\uD800-\\uDFFF); send text as valid UTF-8 or paired escapes.");
        return false;
    }

    /// <summary>Returns the pooled buffers.</summary>
    public void Dispose()
    {
        ArrayPool<int>.Shared.Return(_nameStarts);
        ArrayPool<int>.Shared.Return(_nameLengths);
        ArrayPool<int>.Shared.Return(_frames);
    }

    private void Grow()
    {
        var starts = ArrayPool<int>.Shared.Rent(_nameStarts.Length * 2);
        var lengths = ArrayPool<int>.Shared.Rent(_nameLengths.Length * 2);
        _nameStarts.AsSpan(0, _names).CopyTo(starts);
        _nameLengths.AsSpan(0, _names).CopyTo(lengths);
        ArrayPool<int>.Shared.Return(_nameStarts);
        ArrayPool<int>.Shared.Return(_nameLengths);
        _nameStarts = starts;
        _nameLengths = lengths;
    }

    private readonly string? FindDuplicate(ReadOnlySpan<byte> body, int from, int to)
    {
        var count = to - from;
        if (count < 2) return null;
        if (count <= 12)
        {
            for (var i = from; i < to; i++)
            {
                var a = body.Slice(_nameStarts[i], _nameLengths[i]);
                for (var j = i + 1; j < to; j++)
                {
                    if (a.SequenceEqual(body.Slice(_nameStarts[j], _nameLengths[j]))) return Name(a);
                }
            }
            return null;
        }
        // NOTE: large objects: sort by hash, compare bytes only where hashes meet (n log n whatever the client sends).
        var hashes = ArrayPool<int>.Shared.Rent(count);
        var order = ArrayPool<int>.Shared.Rent(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var h = new HashCode();
                h.AddBytes(body.Slice(_nameStarts[from + i], _nameLengths[from + i]));
                hashes[i] = h.ToHashCode();
                order[i] = from + i;
            }
            Array.Sort(hashes, order, 0, count);
            for (var i = 0; i < count - 1; i++)
            {
                for (var j = i + 1; j < count && hashes[j] == hashes[i]; j++)
                {
                    var a = body.Slice(_nameStarts[order[i]], _nameLengths[order[i]]);
                    if (a.SequenceEqual(body.Slice(_nameStarts[order[j]], _nameLengths[order[j]]))) return Name(a);
                }
            }
            return null;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(hashes);
            ArrayPool<int>.Shared.Return(order);
        }
    }

    private static string Name(ReadOnlySpan<byte> raw)
    {
        // NOTE: a key is structure, not content; still cut it short so an error body never carries a long client string.
        var text = Encoding.UTF8.GetString(raw);
        return text.Length > 64 ? text[..64] + "…" : text;
    }

    /// <summary>True when the raw (escaped) text of a string has a \uD800-\uDFFF escape that is not part of a pair.</summary>
    public static bool HasLoneSurrogate(ReadOnlySpan<byte> raw)
    {
        var pendingHigh = false;
        var i = 0;
        while (i < raw.Length)
        {
            if (raw[i] != '\\')
            {
                if (pendingHigh) return true;
                i++;
                continue;
            }
            if (i + 1 < raw.Length && raw[i + 1] == 'u' && i + 5 < raw.Length && TryHex(raw.Slice(i + 2, 4), out var cp))
            {
                if (cp is >= 0xD800 and <= 0xDBFF)
                {
                    if (pendingHigh) return true;
                    pendingHigh = true;
                }
                else if (cp is >= 0xDC00 and <= 0xDFFF)
                {
                    if (!pendingHigh) return true;
                    pendingHigh = false;
                }
                else if (pendingHigh)
                {
                    return true;
                }
                i += 6;
                continue;
            }
            if (pendingHigh) return true;
            i += 2;
        }
        return pendingHigh;
    }

    private static bool TryHex(ReadOnlySpan<byte> four, out int value)
    {
        value = 0;
        foreach (var b in four)
        {
            var d = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (d < 0) return false;
            value = value * 16 + d;
        }
        return true;
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> body)
    {
        var i = 0;
        while (i < body.Length)
        {
            if (Rune.DecodeFromUtf8(body[i..], out _, out var consumed) != OperationStatus.Done) return i;
            i += consumed;
        }
        return body.Length;
    }

    /// <summary>The top-level property whose value holds byte <paramref name="offset"/> (null when none or not an object).</summary>
    private static string? TopLevelFieldAt(ReadOnlySpan<byte> body, int offset)
    {
        try
        {
            var reader = new Utf8JsonReader(body, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.ValueSpan.ToArray();
                if (reader.TokenStartIndex > offset) return null;
                reader.Read();
                reader.Skip();
                if (reader.BytesConsumed > offset) return Utf8.IsValid(name) ? Name(name) : null;
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }
}
