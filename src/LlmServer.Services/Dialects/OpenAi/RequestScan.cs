using System.Text.Json;
using LlmServer.Dto;

namespace LlmServer.Services.Dialects.OpenAi;

/// <summary>
/// What the gateway needs from a request body, found with one Utf8JsonReader pass over the top level:
/// where "model" is (to rewrite it in place), "stream", and "stream_options.include_usage".
/// Everything else is skipped, so unknown fields (vLLM's top_k, guided_json, ...) pass through byte for byte.
/// The same pass applies <see cref="JsonBodyCheck"/> (UTF-8, surrogates, depth, duplicate keys) to every value.
/// </summary>
public struct RequestScan
{
    public string? Model;
    /// <summary>Offset and length of the model value token (quotes included); -1 when absent.</summary>
    public int ModelStart;
    public int ModelLength;
    public bool Stream;
    /// <summary>max_tokens / max_completion_tokens / max_output_tokens when given (for the budget reservation).</summary>
    public long? MaxTokens;
    /// <summary>Offset and length of the max_tokens value token (-1: absent), to lower it in place when the context is short.</summary>
    public int MaxTokensStart;
    public int MaxTokensLength;
    /// <summary>Offset of the '{' of stream_options (-1: absent), and whether that object has members.</summary>
    public int StreamOptionsStart;
    public int StreamOptionsLength;
    public bool StreamOptionsHasMembers;
    public bool StreamOptionsIsNull;
    public bool IncludeUsage;
    /// <summary>Offset and length of the include_usage value token (-1: absent).</summary>
    public int IncludeUsageStart;
    public int IncludeUsageLength;
    public int ObjectStart;
    public int ObjectEnd;
    public int PropertyCount;
    public string? Error;
    public string? ErrorParam;

    public static RequestScan Run(ReadOnlySpan<byte> body)
    {
        var scan = new RequestScan { ModelStart = -1, StreamOptionsStart = -1, IncludeUsageStart = -1, MaxTokensStart = -1 };
        if (JsonBodyCheck.CheckUtf8(body) is { } encoding)
        {
            scan.Error = encoding.Message;
            scan.ErrorParam = encoding.Field;
            return scan;
        }
        var check = JsonBodyCheck.Begin();
        try
        {
            var reader = new Utf8JsonReader(body, JsonBodyCheck.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                scan.Error = "The request body must be a JSON object.";
                return scan;
            }
            scan.ObjectStart = (int)reader.TokenStartIndex;
            check.EnterObject(ref reader, body);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    scan.ObjectEnd = (int)reader.TokenStartIndex;
                    if (!check.LeaveObject(body)) return scan.Fail(check.Problem);
                    // NOTE: trailing bytes after the object are rejected by the reader on the next Read.
                    while (reader.Read()) { }
                    return scan;
                }
                scan.PropertyCount++;
                if (!check.OnProperty(ref reader, body)) return scan.Fail(check.Problem);
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (!check.CheckString(ref reader, body)) return scan.Fail(check.Problem);
                        scan.Model = reader.GetString();
                        scan.ModelStart = (int)reader.TokenStartIndex;
                        scan.ModelLength = (int)(reader.BytesConsumed - reader.TokenStartIndex);
                    }
                    else if (reader.TokenType == JsonTokenType.Null)
                    {
                        scan.ModelStart = (int)reader.TokenStartIndex;
                        scan.ModelLength = 4;
                    }
                    else
                    {
                        scan.Error = "Invalid type for 'model': expected a string.";
                        scan.ErrorParam = "model";
                        return scan;
                    }
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    if (reader.TokenType is JsonTokenType.True or JsonTokenType.False) scan.Stream = reader.TokenType == JsonTokenType.True;
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        scan.Error = "Invalid type for 'stream': expected a boolean.";
                        scan.ErrorParam = "stream";
                        return scan;
                    }
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        scan.StreamOptionsStart = (int)reader.TokenStartIndex;
                        scan.StreamOptionsLength = 4;
                        scan.StreamOptionsIsNull = true;
                    }
                    else if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        scan.StreamOptionsStart = (int)reader.TokenStartIndex;
                        check.EnterObject(ref reader, body);
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                        {
                            scan.StreamOptionsHasMembers = true;
                            if (!check.OnProperty(ref reader, body)) return scan.Fail(check.Problem);
                            var isUsage = reader.ValueTextEquals("include_usage"u8);
                            reader.Read();
                            if (isUsage)
                            {
                                scan.IncludeUsage = reader.TokenType == JsonTokenType.True;
                                scan.IncludeUsageStart = (int)reader.TokenStartIndex;
                                scan.IncludeUsageLength = (int)(reader.BytesConsumed - reader.TokenStartIndex);
                            }
                            if (!check.SkipValue(ref reader, body)) return scan.Fail(check.Problem);
                        }
                        if (!check.LeaveObject(body)) return scan.Fail(check.Problem);
                        scan.StreamOptionsLength = (int)(reader.BytesConsumed - scan.StreamOptionsStart);
                    }
                    else if (!check.SkipValue(ref reader, body))
                    {
                        return scan.Fail(check.Problem);
                    }
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    var name = reader.ValueTextEquals("max_tokens"u8) ? "max_tokens" : reader.ValueTextEquals("max_output_tokens"u8) ? "max_output_tokens" : "max_completion_tokens";
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number)
                    {
                        if (!reader.TryGetInt64(out var max) || max > Services.Anthropic.RequestShapes.MaxTokensLimit)
                        {
                            // NOTE: the budget reservation multiplies this by a price; a value past any model's output cannot be honoured anyway.
                            scan.Error = $"Invalid '{name}': expected a whole number of tokens up to {Services.Anthropic.RequestShapes.MaxTokensLimit}.";
                            scan.ErrorParam = name;
                            return scan;
                        }
                        if (max > 0) scan.MaxTokens = max;
                        scan.MaxTokensStart = (int)reader.TokenStartIndex;
                        scan.MaxTokensLength = reader.ValueSpan.Length;
                    }
                    else if (!check.SkipValue(ref reader, body))
                    {
                        return scan.Fail(check.Problem);
                    }
                }
                else
                {
                    reader.Read();
                    if (!check.SkipValue(ref reader, body)) return scan.Fail(check.Problem);
                }
            }
            scan.Error = "We could not parse the JSON body of your request.";
            return scan;
        }
        catch (JsonException)
        {
            scan.Error = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)";
            return scan;
        }
        finally
        {
            check.Dispose();
        }
    }

    private RequestScan Fail(JsonBodyProblem? problem)
    {
        Error = problem?.Message ?? "We could not parse the JSON body of your request.";
        ErrorParam = problem?.Field;
        return this;
    }
}
