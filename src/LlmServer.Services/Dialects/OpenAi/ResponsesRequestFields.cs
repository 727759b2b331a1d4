using System.Text.Json;

namespace LlmServer.Services.Dialects.OpenAi;

/// <summary>
/// The top-level fields of a /v1/responses body that decide ownership: whether the upstream will store the
/// response (<c>store</c>, true unless false; <c>background</c>), and which stored response it continues.
/// </summary>
public readonly record struct ResponsesRequestFields(bool Stored, string? PreviousResponseId)
{
    /// <summary>One reader pass over the top level; nested values are skipped. Invalid JSON yields the defaults (the scan reports it).</summary>
    public static ResponsesRequestFields Read(ReadOnlySpan<byte> body)
    {
        bool? store = null;
        var background = false;
        string? previous = null;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return new(true, null);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("store"u8))
                {
                    reader.Read();
                    store = reader.TokenType switch { JsonTokenType.False => false, JsonTokenType.True => true, _ => store };
                }
                else if (reader.ValueTextEquals("background"u8))
                {
                    reader.Read();
                    background = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("previous_response_id"u8))
                {
                    reader.Read();
                    previous = reader.TokenType == JsonTokenType.String ? reader.GetString() : previous;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
        }
        catch (InvalidOperationException)
        {
        }
        return new(store != false || background, string.IsNullOrEmpty(previous) ? null : previous);
    }
}
