using System.Text.Json;

namespace LlmServer.Api.Proxy;

/// <summary>
/// What the gateway needs from a request body, found with one Utf8JsonReader pass over the top level:
/// where "model" is (to rewrite it in place), "stream", and "stream_options.include_usage".
/// Everything else is skipped, so unknown fields (vLLM's top_k, guided_json, ...) pass through byte for byte.
/// </summary>
internal struct RequestScan
{
    public string? Model;
    /// <summary>Offset and length of the model value token (quotes included); -1 when absent.</summary>
    public int ModelStart;
    public int ModelLength;
    public bool Stream;
    /// <summary>max_tokens / max_completion_tokens / max_output_tokens when given (for the budget reservation).</summary>
    public long? MaxTokens;
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
        var scan = new RequestScan { ModelStart = -1, StreamOptionsStart = -1, IncludeUsageStart = -1 };
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                scan.Error = "The request body must be a JSON object.";
                return scan;
            }
            scan.ObjectStart = (int)reader.TokenStartIndex;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    scan.ObjectEnd = (int)reader.TokenStartIndex;
                    // NOTE: trailing bytes after the object are rejected by the reader on the next Read.
                    while (reader.Read()) { }
                    return scan;
                }
                scan.PropertyCount++;
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
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
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                        {
                            scan.StreamOptionsHasMembers = true;
                            var isUsage = reader.ValueTextEquals("include_usage"u8);
                            reader.Read();
                            if (isUsage)
                            {
                                scan.IncludeUsage = reader.TokenType == JsonTokenType.True;
                                scan.IncludeUsageStart = (int)reader.TokenStartIndex;
                                scan.IncludeUsageLength = (int)(reader.BytesConsumed - reader.TokenStartIndex);
                            }
                            reader.Skip();
                        }
                        scan.StreamOptionsLength = (int)(reader.BytesConsumed - scan.StreamOptionsStart);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var max) && max > 0) scan.MaxTokens = max;
                    else reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
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
    }
}
