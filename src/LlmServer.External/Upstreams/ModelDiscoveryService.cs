using LlmServer.Services.Transport;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlmServer.Services.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmServer.External.Upstreams;

/// <summary>Asks each openai_compatible and openai upstream without configured models for its /v1/models, periodically.</summary>
internal sealed partial class ModelDiscoveryService(
    IModelRouter router, UpstreamHttpClients clients, UpstreamProtocols protocols, IOptions<GatewayOptions> options,
    ILogger<ModelDiscoveryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var upstreams = router.Upstreams.Where(u => u.DiscoversModels).ToArray();
        if (upstreams.Length == 0) return;
        var period = TimeSpan.FromSeconds(Math.Max(1, options.Value.ModelRefreshSeconds));
        using var timer = new PeriodicTimer(period);
        do
        {
            foreach (var u in upstreams) await RefreshAsync(u, stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    internal async Task RefreshAsync(UpstreamDefinition upstream, CancellationToken cancellationToken)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(upstream.FirstByteTimeout);
            using var request = new HttpRequestMessage(HttpMethod.Get, upstream.BaseUrl + "/models");
            protocols.For(upstream.Kind)?.ApplyAuth(request.Headers, upstream);
            using var response = await clients.For(upstream).SendAsync(request, cts.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                Fail(upstream, $"/models answered {(int)response.StatusCode}");
                return;
            }
            await using var stream = await response.Content.ReadAsStreamAsync(cts.Token).ConfigureAwait(false);
            var list = await JsonSerializer.DeserializeAsync(stream, DiscoveryJsonContext.Default.UpstreamModelList, cts.Token).ConfigureAwait(false);
            var models = (list?.Data ?? []).Where(m => !string.IsNullOrEmpty(m.Id))
                .Select(m => new DiscoveredModel(m.Id!, m.Created ?? 0, m.MaxModelLen)).ToArray();
            router.SetDiscovered(upstream.Name, models);
            router.SetDiscoveryFailure(upstream.Name, null);
            LogDiscovered(logger, upstream.Name, models.Length);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or OperationCanceledException or IOException)
        {
            Fail(upstream, ex.GetType().Name);
            LogDiscoveryError(logger, upstream.Name, ex);
        }
    }

    private void Fail(UpstreamDefinition upstream, string reason)
    {
        // NOTE: an OpenAI upstream still serves its configured list when its listing fails (a key may lack the
        // "models" permission), so that is no failing component; a vLLM upstream has nothing else to serve.
        if (upstream.Kind != UpstreamKinds.OpenAi) router.SetDiscoveryFailure(upstream.Name, reason);
        LogDiscoveryFailed(logger, upstream.Name, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Upstream {Upstream} serves {Count} model(s)")]
    private static partial void LogDiscovered(ILogger logger, string upstream, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model discovery on upstream {Upstream} failed: {Reason}")]
    private static partial void LogDiscoveryFailed(ILogger logger, string upstream, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Model discovery on upstream {Upstream} failed")]
    private static partial void LogDiscoveryError(ILogger logger, string upstream, Exception ex);
}

internal sealed record UpstreamModelList
{
    [JsonPropertyName("data")]
    public List<UpstreamModel>? Data { get; init; }
}

internal sealed record UpstreamModel
{
    [JsonPropertyName("id")]
    public string? Id { get; init; }

    [JsonPropertyName("created")]
    public long? Created { get; init; }

    [JsonPropertyName("max_model_len")]
    public int? MaxModelLen { get; init; }
}

[JsonSerializable(typeof(UpstreamModelList))]
internal sealed partial class DiscoveryJsonContext : JsonSerializerContext;
