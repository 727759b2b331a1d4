using System.Text.Json;
using LlmServer.Services.Masking.Detection;

namespace LlmServer.Services.Masking;

/// <summary>
/// The cheap first look at a JSON request body: one forward pass of a <see cref="Utf8JsonReader"/> that runs the
/// scanner over every string value. <see cref="JsonBodyMasker"/> scans a subset of those strings (the prompt
/// fields), so when nothing is found here, masking the body would find nothing either and the body can be
/// forwarded without building a <c>JsonNode</c> tree. Two positions are skipped because they never carry prompt
/// text and are never masked: the root "model" and each <c>messages[i].role</c>.
/// Anything unusual (invalid JSON, a detection, a root that is not an object) answers true: the full path decides.
/// </summary>
internal static class JsonBodyPrefilter
{
    public static bool MayContainSensitiveData(SensitiveDataScanner scanner, ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return true;
            }
            var inMessages = false;
            var property = PropertyKind.Other;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        property = reader.CurrentDepth switch
                        {
                            1 when reader.ValueTextEquals("model"u8) => PropertyKind.Model,
                            1 => PropertyKind.Other,
                            3 when inMessages && reader.ValueTextEquals("role"u8) => PropertyKind.Role,
                            _ => PropertyKind.Other,
                        };
                        if (reader.CurrentDepth == 1)
                        {
                            inMessages = reader.ValueTextEquals("messages"u8);
                        }
                        continue;
                    case JsonTokenType.String:
                        var skip = (property == PropertyKind.Model && reader.CurrentDepth == 1)
                            || (property == PropertyKind.Role && reader.CurrentDepth == 3);
                        if (!skip && scanner.FindsAny(reader.GetString()!))
                        {
                            return true;
                        }
                        break;
                }
                property = PropertyKind.Other;
            }
            return false;
        }
        catch (JsonException)
        {
            return true;
        }
    }

    private enum PropertyKind
    {
        Other,
        Model,
        Role,
    }
}
