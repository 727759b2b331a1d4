using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using LlmServer.Services.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using LlmServer.Services.Routing;
using LlmServer.Services.Transport;
using TransportRequest = LlmServer.Services.Transport.UpstreamRequest;
using TransportResult = LlmServer.Services.Transport.UpstreamResult;

namespace LlmServer.External.OpenAi;

/// <summary>
/// The official SDK's HTTP handler: each request the Responses client makes is sent through the one upstream
/// transport (retry before the first byte, circuit breaker per deployment, per-phase timeouts), as the gateway's own
/// calls are. The SDK keeps what it is good at (request shape, SSE parsing, typed results); a failure the transport
/// gave up on comes back as the catalogue's entry, so the session API answers what the other APIs answer.
/// </summary>
internal sealed class TransportHandler(IUpstreamForwarder forwarder, ResponsesTarget target, UpstreamDefinition upstream, CircuitBreakerOptions breaker)
    : HttpMessageHandler
{
    private readonly string _base = target.Endpoint.AbsoluteUri.TrimEnd('/') + "/";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // NOTE: copied once; each attempt (a retry, another deployment) sends the same bytes.
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var model = body is null ? "" : ModelOf(body);
        var call = new TransportRequest(request.Method, PathOf(request.RequestUri!),
            body is null ? null : new BufferedBody(body, request.Content!.Headers.ContentType), AcceptOf(request))
        {
            Headers = CredentialsOf(request),
        };
        var result = await forwarder.SendAsync(call, ChatUpstreamRoute.For(upstream, model), cancellationToken).ConfigureAwait(false);
        if (result.Outcome is UpstreamOutcome.Ok or UpstreamOutcome.ClientError && result.Response is { } response)
        {
            response.RequestMessage = request;
            response.Content = new RelayedContent(response.Content, result);
            return response;
        }
        var outcome = result.Outcome;
        var error = ErrorOf(result, model);
        result.Dispose();
        if (outcome == UpstreamOutcome.ClientAborted)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        throw LlmServerException.From(error);
    }

    /// <summary>The catalogue entry of a call the transport gave up on; the operator's setting named where it helps them.</summary>
    private ExchangeError ErrorOf(TransportResult result, string model) => result.Outcome switch
    {
        UpstreamOutcome.RateLimited => ExchangeErrors.UpstreamRateLimited(model,
            result.RetryAfter is { } after ? (long)Math.Ceiling(after.TotalSeconds) : null),
        UpstreamOutcome.UpstreamError => ExchangeErrors.UpstreamFailed(result.UpstreamStatus),
        UpstreamOutcome.Timeout => ExchangeErrors.UpstreamTimeout with
        {
            Args = [Math.Min(upstream.FirstByteTimeout.TotalSeconds, upstream.TotalTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture)],
        },
        UpstreamOutcome.CircuitOpen => ExchangeErrors.UpstreamUnavailable(model, (long)Math.Ceiling(breaker.BreakSeconds)),
        _ => ExchangeErrors.UpstreamUnreachable with { Args = [target.UrlEnv] },
    };

    /// <summary>The path under the upstream's base URL ("responses", "responses/{id}?..."), as the transport addresses it.</summary>
    private string PathOf(Uri uri)
    {
        var full = uri.AbsoluteUri;
        return full.StartsWith(_base, StringComparison.Ordinal) ? full[_base.Length..] : uri.PathAndQuery.TrimStart('/');
    }

    private static string? AcceptOf(HttpRequestMessage request) =>
        request.Headers.TryGetValues("Accept", out var values) ? string.Join(", ", values) : null;

    /// <summary>The key the SDK put on the request (the server's, or the caller's own), passed on unchanged.</summary>
    private KeyValuePair<string, string>[] CredentialsOf(HttpRequestMessage request)
    {
        var name = target.KeyHeader ?? "Authorization";
        return request.Headers.TryGetValues(name, out var values) ? [new(name, values.First())] : [];
    }

    /// <summary>The top-level "model" of a Responses request body (the name the upstream knows: an Azure deployment).</summary>
    private static string ModelOf(byte[] body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return "";
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() ?? "" : "";
                }
                reader.Read();
                reader.TrySkip();
            }
        }
        catch (JsonException)
        {
        }
        return "";
    }

    private sealed class BufferedBody(byte[] body, MediaTypeHeaderValue? contentType) : UpstreamBody
    {
        public override HttpContent Create(Deployment deployment)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = contentType;
            return content;
        }
    }
}
