using System.Diagnostics.Metrics;
using LlmServer.Services.Accounting;

namespace LlmServer.Services.Metrics;

/// <summary>
/// The "LlmServer" meter and every instrument other areas record into. One singleton per host
/// (created through <see cref="IMeterFactory"/>, so two hosts in one process never mix their numbers).
/// Request, token and cost counters are fed from usage rows by the ledger sink, so each surface is counted once.
/// Label values go through <see cref="MetricLabels"/>, so what clients send never becomes a series of its own.
/// </summary>
public sealed class LlmServerMetrics : IDisposable
{
    public const string MeterName = "LlmServer";

    /// <summary>Seconds buckets shared by the latency histograms.</summary>
    public static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    private readonly Meter _meter;
    private readonly MetricLabels _labels;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _upstreamDuration;
    private readonly Histogram<double> _overhead;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _masked;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _budgetRejected;
    private readonly Counter<long> _ledgerDropped;
    private readonly Counter<long> _ledgerWritten;
    private readonly Lock _gate = new();
    private Func<int>? _ledgerDepth;
    private readonly List<Func<IEnumerable<KeyValuePair<string, int>>>> _circuitSources = [];

    public LlmServerMetrics(IMeterFactory meterFactory, MetricLabels? labels = null)
    {
        _labels = labels ?? new MetricLabels();
        _meter = meterFactory.Create(MeterName);
        _requests = _meter.CreateCounter<long>("llmserver_requests", description: "Requests served, by route, model and HTTP status.");
        _requestDuration = _meter.CreateHistogram<double>("llmserver_request_duration_seconds", "s", "Request latency as the client saw it.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _upstreamDuration = _meter.CreateHistogram<double>("llmserver_upstream_duration_seconds", "s", "Upstream call latency.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _overhead = _meter.CreateHistogram<double>("llmserver_gateway_overhead_seconds", "s", "Time spent in LlmServer itself (request latency minus upstream time).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
        _tokens = _meter.CreateCounter<long>("llmserver_tokens", description: "Tokens by type (input, cached, output, reasoning) and model.");
        // NOTE: "{USD}" (a UCUM annotation) rather than "USD", which the Prometheus exporter would append to the name.
        _cost = _meter.CreateCounter<double>("llmserver_cost_usd", "{USD}", "Cost in USD by model.");
        _retries = _meter.CreateCounter<long>("llmserver_upstream_retries", description: "Upstream call retries.");
        _masked = _meter.CreateCounter<long>("llmserver_masked_values", description: "Values masked, by detector type.");
        _rateLimited = _meter.CreateCounter<long>("llmserver_rate_limited", description: "Requests refused by a rate limit, by reason (rpm, tpm, concurrency).");
        _budgetRejected = _meter.CreateCounter<long>("llmserver_budget_rejected", description: "Requests refused because a key's budget could not be reserved.");
        _ledgerDropped = _meter.CreateCounter<long>("llmserver_ledger_dropped", description: "Usage rows dropped because the ledger queue was full.");
        _ledgerWritten = _meter.CreateCounter<long>("llmserver_ledger_written", description: "Usage rows written to the ledger store.");
        _meter.CreateObservableGauge("llmserver_ledger_queue_depth", () => _ledgerDepth?.Invoke() ?? 0, description: "Usage rows waiting to be written.");
        _meter.CreateObservableGauge("llmserver_circuit_state", ObserveCircuits, description: "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.");
        _meter.CreateObservableGauge("llmserver_process_memory_bytes", () => Environment.WorkingSet, "By", "Process working set.");
        _meter.CreateObservableGauge("llmserver_process_managed_memory_bytes", () => GC.GetTotalMemory(false), "By", "Managed heap size.");
        _meter.CreateObservableCounter("llmserver_process_cpu_seconds", () => Environment.CpuUsage.TotalTime.TotalSeconds, "s", "CPU time used by the process.");
        _meter.CreateObservableGauge("llmserver_process_cpu_count", () => Environment.ProcessorCount, description: "Processors available to the process.");
    }

    /// <summary>The meter (for collectors that filter by it).</summary>
    public Meter Meter => _meter;

    /// <summary>The bounded label values this host uses (spans use the same model labels).</summary>
    public MetricLabels Labels => _labels;

    /// <summary>Counts a finished request from its usage row: requests, latencies, tokens, cost, masking.</summary>
    public void RecordUsage(UsageRecord record)
    {
        var model = _labels.Model(record.Model, record.Status);
        var route = MetricLabels.Route(record.Route);
        _requests.Add(1, new("route", route), new("model", model), new("status", MetricLabels.Status(record.Status)));
        _requestDuration.Record(record.LatencyMs / 1000.0, new("route", route), new("model", model));
        if (record.OverheadMs > 0)
        {
            _overhead.Record(record.OverheadMs / 1000.0, new KeyValuePair<string, object?>("route", route));
        }
        AddTokens("input", record.InputTokens, model);
        AddTokens("cached", record.CachedTokens, model);
        AddTokens("output", record.OutputTokens, model);
        AddTokens("reasoning", record.ReasoningTokens, model);
        if (record.CostUsd is decimal usd && usd > 0)
        {
            _cost.Add((double)usd, new KeyValuePair<string, object?>("model", model));
        }
        if (record.MaskedCounts is { Count: > 0 } masked)
        {
            foreach (var (type, count) in masked)
            {
                RecordMasked(type, count);
            }
        }
    }

    /// <summary>Records one upstream call's latency.</summary>
    public void RecordUpstream(string upstream, string? model, TimeSpan elapsed, int status) =>
        _upstreamDuration.Record(elapsed.TotalSeconds, new("upstream", upstream), new("model", _labels.KnownModel(model)), new("status", MetricLabels.Status(status)));

    /// <summary>Counts an upstream retry.</summary>
    public void RecordRetry(string upstream) => _retries.Add(1, new KeyValuePair<string, object?>("upstream", upstream));

    /// <summary>Counts masked values of one detector type (when not recorded through a usage row).</summary>
    public void RecordMasked(string type, long count)
    {
        if (count > 0)
        {
            _masked.Add(count, new KeyValuePair<string, object?>("type", type));
        }
    }

    /// <summary>Counts a refusal by a rate limit ("rpm", "tpm", "concurrency").</summary>
    public void RecordRateLimited(string reason) => _rateLimited.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Counts a refused budget reservation.</summary>
    public void RecordBudgetRejected() => _budgetRejected.Add(1);

    /// <summary>Counts ledger rows dropped on a full queue.</summary>
    public void RecordLedgerDropped(long count = 1) => _ledgerDropped.Add(count);

    /// <summary>Counts ledger rows written.</summary>
    public void RecordLedgerWritten(long count) => _ledgerWritten.Add(count);

    /// <summary>Sets where the ledger queue depth is read from.</summary>
    public void ObserveLedgerQueue(Func<int> depth) => _ledgerDepth = depth;

    /// <summary>
    /// Adds a source of circuit states (upstream name -> 0 closed, 1 half-open, 2 open), read at each scrape.
    /// </summary>
    public void ObserveCircuitStates(Func<IEnumerable<KeyValuePair<string, int>>> source)
    {
        lock (_gate)
        {
            _circuitSources.Add(source);
        }
    }

    private IEnumerable<Measurement<int>> ObserveCircuits()
    {
        Func<IEnumerable<KeyValuePair<string, int>>>[] sources;
        lock (_gate)
        {
            sources = [.. _circuitSources];
        }
        var result = new List<Measurement<int>>();
        foreach (var source in sources)
        {
            foreach (var (upstream, state) in source())
            {
                result.Add(new Measurement<int>(state, new KeyValuePair<string, object?>("upstream", upstream)));
            }
        }
        return result;
    }

    private void AddTokens(string type, long count, string model)
    {
        if (count > 0)
        {
            _tokens.Add(count, new("type", type), new("model", model));
        }
    }

    public void Dispose() => _meter.Dispose();
}
