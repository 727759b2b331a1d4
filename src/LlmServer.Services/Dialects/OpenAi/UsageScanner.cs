using System.Text.Json;
using LlmServer.Services.Pricing;

namespace LlmServer.Services.Dialects.OpenAi;

/// <summary>What a response (or one stream event) says about usage, found without deserialising it.</summary>
public struct UsageScan
{
    public bool Valid;
    public bool HasUsage;
    public TokenUsage Usage;
    /// <summary>"choices" is present and empty (the include_usage chunk).</summary>
    public bool ChoicesEmpty;
    /// <summary>Top-level id, or response.id for Responses stream events.</summary>
    public string? Id;
}

/// <summary>Reads usage in the Chat/Completions/Embeddings shape (prompt_tokens ...) and the Responses shape (input_tokens ...).</summary>
public static class UsageScanner
{
    public static UsageScan Scan(ReadOnlySpan<byte> json, bool wantId)
    {
        var scan = new UsageScan();
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return scan;
            ScanObject(ref reader, ref scan, wantId, nested: false);
            while (reader.Read()) { }
            scan.Valid = true;
        }
        catch (JsonException)
        {
            scan.Valid = false;
        }
        return scan;
    }

    private static void ScanObject(ref Utf8JsonReader reader, ref UsageScan scan, bool wantId, bool nested)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    scan.HasUsage = true;
                    scan.Usage = ReadUsage(ref reader);
                }
                else reader.Skip();
            }
            else if (!nested && reader.ValueTextEquals("choices"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    reader.Read();
                    scan.ChoicesEmpty = reader.TokenType == JsonTokenType.EndArray;
                    if (!scan.ChoicesEmpty)
                    {
                        reader.Skip();
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) reader.Skip();
                    }
                }
                else reader.Skip();
            }
            else if (wantId && reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && scan.Id is null) scan.Id = reader.GetString();
                else reader.Skip();
            }
            else if (!nested && reader.ValueTextEquals("response"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject) ScanObject(ref reader, ref scan, wantId, nested: true);
                else reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static TokenUsage ReadUsage(ref Utf8JsonReader reader)
    {
        long input = 0, output = 0, cached = 0, reasoning = 0, write = 0, write5m = 0, write1h = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8)) input = ReadLong(ref reader);
            // NOTE: Anthropic's cache writes beside an OpenAI usage (LiteLLM, this server's translation of a Claude answer), already inside prompt_tokens.
            else if (reader.ValueTextEquals("cache_creation_input_tokens"u8)) write = ReadLong(ref reader);
            else if (reader.ValueTextEquals("cache_creation"u8)) (write5m, write1h) = ReadCacheCreation(ref reader);
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8)) output = ReadLong(ref reader);
            else if (reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8)) cached = ReadDetail(ref reader, "cached_tokens"u8);
            else if (reader.ValueTextEquals("completion_tokens_details"u8) || reader.ValueTextEquals("output_tokens_details"u8)) reasoning = ReadDetail(ref reader, "reasoning_tokens"u8);
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        write = Math.Max(write, write5m + write1h);
        return new TokenUsage(input, cached, output, reasoning, write - write1h, write1h);
    }

    private static (long FiveMinutes, long OneHour) ReadCacheCreation(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return (0, 0);
        }
        long fiveMinutes = 0, oneHour = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals("ephemeral_5m_input_tokens"u8)) fiveMinutes = ReadLong(ref reader);
            else if (reader.ValueTextEquals("ephemeral_1h_input_tokens"u8)) oneHour = ReadLong(ref reader);
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return (fiveMinutes, oneHour);
    }

    private static long ReadLong(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var v) ? v : 0;
    }

    private static long ReadDetail(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return 0;
        }
        long value = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals(name)) value = ReadLong(ref reader);
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return value;
    }
}
