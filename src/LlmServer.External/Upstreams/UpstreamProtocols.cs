using LlmServer.Services.Transport;
using System.Net.Http.Headers;
using LlmServer.Services.Routing;

namespace LlmServer.External.Upstreams;

/// <summary>
/// How to talk to one kind of upstream. The forwarder asks for the protocol by <see cref="Kind"/>. Requests are
/// in one wire dialect (OpenAI's paths, or Anthropic's <c>messages</c>); a deployment only gets the dialect its
/// upstream speaks, translation being the adapter's work before the request reaches the forwarder.
/// </summary>
public interface IUpstreamProtocol
{
    /// <summary>openai, azure_openai, openai_compatible or anthropic.</summary>
    string Kind { get; }

    /// <summary>True when a request to <paramref name="path"/> (its wire dialect) can be forwarded to this kind as it is.</summary>
    bool Accepts(string path) => !AnthropicWire.IsAnthropicPath(path);

    /// <summary>Adds the upstream's credentials to an outgoing request.</summary>
    void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream);

    /// <summary>Where an API path (chat/completions, responses/{id}) of a deployment is served: under the base URL.</summary>
    Uri RequestUri(UpstreamDefinition upstream, string upstreamModel, string path) => new(upstream.BaseUrl + "/" + path);
}

/// <summary>OpenAI and OpenAI-compatible servers (vLLM, Ollama, LM Studio): Bearer key.</summary>
internal sealed class OpenAiProtocol(string kind) : IUpstreamProtocol
{
    public string Kind { get; } = kind;

    public void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream)
    {
        if (upstream.ApiKey is { } key) headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
    }
}

/// <summary>Azure OpenAI: api-key header, deployment name as model, v1 or classic paths (<see cref="AzureOpenAiUpstream.RequestUri"/>).</summary>
internal sealed class AzureOpenAiProtocol : IUpstreamProtocol
{
    public string Kind => UpstreamKinds.AzureOpenAi;

    public void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream)
    {
        if (upstream.ApiKey is { } key) headers.TryAddWithoutValidation("api-key", key);
    }

    public Uri RequestUri(UpstreamDefinition upstream, string upstreamModel, string path) =>
        AzureOpenAiUpstream.RequestUri(upstream, upstreamModel, path);
}

/// <summary>Anthropic Messages: x-api-key, anthropic-version; only Anthropic-wire paths (messages, messages/count_tokens).</summary>
internal sealed class AnthropicProtocol : IUpstreamProtocol
{
    public string Kind => UpstreamKinds.Anthropic;

    public bool Accepts(string path) => AnthropicWire.IsAnthropicPath(path);

    /// <summary>The base URL is configured with or without /v1 (the SDKs' ANTHROPIC_BASE_URL has none).</summary>
    public Uri RequestUri(UpstreamDefinition upstream, string upstreamModel, string path)
    {
        var b = upstream.BaseUrl.TrimEnd('/');
        return new Uri((b.EndsWith("/v1", StringComparison.OrdinalIgnoreCase) ? b : b + "/v1") + "/" + path);
    }

    public void ApplyAuth(HttpRequestHeaders headers, UpstreamDefinition upstream)
    {
        if (upstream.ApiKey is { } key) headers.TryAddWithoutValidation("x-api-key", key);
        // NOTE: a client's own anthropic-version (sent with the request) wins; this is the default.
        if (!headers.Contains("anthropic-version")) headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
    }
}

/// <summary>Looks up the protocol for a kind (last registration wins, so a later handler can replace one).</summary>
public sealed class UpstreamProtocols
{
    private readonly Dictionary<string, IUpstreamProtocol> _byKind = new(StringComparer.Ordinal);

    public UpstreamProtocols(IEnumerable<IUpstreamProtocol> protocols)
    {
        foreach (var p in protocols) _byKind[p.Kind] = p;
    }

    public IUpstreamProtocol? For(string kind) => _byKind.GetValueOrDefault(kind);
}
