using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmServer.Dto.Chat;

/// <summary>Reads a history entry given as a plain string (a user turn) or as {"role","content"}.</summary>
public sealed class HistoryMessageJsonConverter : JsonConverter<HistoryMessage>
{
    /// <inheritdoc />
    public override HistoryMessage? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return new HistoryMessage { Role = "user", Content = reader.GetString() ?? "" };
            case JsonTokenType.StartObject:
                string? role = null, content = null;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    if (reader.TokenType != JsonTokenType.PropertyName)
                    {
                        throw new JsonException("conversation_history entries must be strings or {\"role\",\"content\"} objects.");
                    }
                    var name = reader.GetString();
                    reader.Read();
                    switch (name)
                    {
                        case "role":
                            role = reader.TokenType == JsonTokenType.String ? reader.GetString()
                                : throw new JsonException("conversation_history[].role must be a string.");
                            break;
                        case "content":
                            content = reader.TokenType == JsonTokenType.String ? reader.GetString()
                                : throw new JsonException("conversation_history[].content must be a string.");
                            break;
                        default:
                            reader.Skip();
                            break;
                    }
                }
                return new HistoryMessage { Role = role ?? "user", Content = content ?? "" };
            default:
                throw new JsonException("conversation_history entries must be strings or {\"role\",\"content\"} objects.");
        }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, HistoryMessage value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("role", value.Role);
        writer.WriteString("content", value.Content);
        writer.WriteEndObject();
    }
}
