using System.Text.Json;

namespace LlmServer.Dto;

/// <summary>
/// The limits every JSON parser of the server applies to a request body, so the reader pass of the gateway,
/// the JSON trees of the translators and masking, and MVC's model binding accept exactly the same bodies.
/// </summary>
public static class JsonLimits
{
    /// <summary>Deepest nesting of objects and arrays accepted (the top-level object is level 1).</summary>
    public const int MaxDepth = 64;

    /// <summary>Options for JsonNode / JsonDocument over a request body: the shared depth, no duplicate keys.</summary>
    public static readonly JsonDocumentOptions Document = new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false };

    /// <summary>Applies the shared limits to serializer options (MVC's model binding).</summary>
    public static void Apply(JsonSerializerOptions options)
    {
        options.MaxDepth = MaxDepth;
        options.AllowDuplicateProperties = false;
    }
}
