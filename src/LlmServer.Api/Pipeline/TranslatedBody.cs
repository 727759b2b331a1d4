using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Routing;
using LlmServer.Services.Transport;

namespace LlmServer.Api.Pipeline;

/// <summary>
/// A request body translated into the upstream's dialect, per deployment (each knows the model by its own name and
/// may want its own fields), translated once per deployment and reused on a retry.
/// </summary>
internal sealed class TranslatedBody(Func<Deployment, byte[]> translate) : UpstreamBody
{
    private readonly Dictionary<string, byte[]> _byDeployment = new(StringComparer.Ordinal);

    /// <summary>Translates for <paramref name="deployment"/> up front; the reason when the request cannot be translated (a 400).</summary>
    public string? Check(Deployment deployment)
    {
        try
        {
            _ = Bytes(deployment);
            return null;
        }
        catch (AnthropicTranslationException e)
        {
            return e.Message;
        }
    }

    public override HttpContent Create(Deployment deployment)
    {
        var content = new ByteArrayContent(Bytes(deployment));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    private byte[] Bytes(Deployment deployment)
    {
        if (_byDeployment.TryGetValue(deployment.Id, out var bytes)) return bytes;
        bytes = translate(deployment);
        _byDeployment[deployment.Id] = bytes;
        return bytes;
    }
}

/// <summary>What an upstream said when it refused a translated request (its body is in the other dialect's shape).</summary>
internal static class UpstreamRefusal
{
    /// <summary>The upstream's own words (error.message, or a bare message / detail); they describe the caller's own request.</summary>
    public static string? MessageOf(byte[] body)
    {
        try
        {
            var node = JsonNode.Parse(body);
            return Str(node?["error"]?["message"]) ?? Str(node?["message"]) ?? Str(node?["detail"]);
        }
        catch (JsonException)
        {
            return null;
        }
        static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    }
}
