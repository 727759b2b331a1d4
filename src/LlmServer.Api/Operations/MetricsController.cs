using LlmServer.Services.Metrics;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Operations;

/// <summary>Prometheus scrape endpoint (text exposition format 0.0.4).</summary>
[ApiController]
[ApiExplorerSettings(IgnoreApi = true)]
public sealed class MetricsController(PrometheusCollector collector) : ControllerBase
{
    /// <summary>Every "LlmServer" metric in Prometheus text format.</summary>
    [HttpGet("/metrics")]
    public ContentResult Get() => Content(collector.Write(), PrometheusCollector.ContentType);
}
