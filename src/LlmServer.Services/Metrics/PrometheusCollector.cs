using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace LlmServer.Services.Metrics;

/// <summary>
/// Aggregates the "LlmServer" meter's measurements with a <see cref="MeterListener"/> and writes them in the
/// Prometheus text exposition format (version 0.0.4). Counters are cumulative, histograms use the
/// instrument's advised bucket boundaries, observable instruments are read at each scrape.
/// </summary>
public sealed class PrometheusCollector : IDisposable
{
    /// <summary>The Content-Type of <see cref="Write"/>'s output.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();
    private readonly Lock _scrapeGate = new();

    public PrometheusCollector(LlmServerMetrics metrics)
    {
        var meter = metrics.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                _instruments[instrument] = new InstrumentState(instrument);
                listener.EnableMeasurementEvents(instrument, _instruments[instrument]);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Reads observable instruments and returns the whole exposition text.</summary>
    public string Write()
    {
        var sb = new StringBuilder(4096);
        lock (_scrapeGate)
        {
            foreach (var state in _instruments.Values)
            {
                if (state.IsObservable)
                {
                    state.Series.Clear();
                }
            }
            _listener.RecordObservableInstruments();
            foreach (var state in _instruments.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                state.WriteTo(sb);
            }
        }
        return sb.ToString();
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>Distinct label sets kept per instrument; later ones are summed into one overflow="true" series.</summary>
    public const int MaxSeriesPerInstrument = 2000;

    private enum Kind { Counter, Gauge, Histogram }

    private sealed class InstrumentState
    {
        private readonly Kind _kind;
        private readonly string _help;
        private readonly double[] _bounds;

        public InstrumentState(Instrument instrument)
        {
            Name = Sanitize(instrument.Name);
            _help = instrument.Description ?? instrument.Name;
            var type = instrument.GetType();
            var generic = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            IsObservable = instrument.IsObservable;
            _kind = generic == typeof(Histogram<>) ? Kind.Histogram
                : generic == typeof(Counter<>) || generic == typeof(ObservableCounter<>) ? Kind.Counter
                : Kind.Gauge;
            _bounds = instrument is Histogram<double> { Advice.HistogramBucketBoundaries: { } b } ? [.. b]
                : instrument is Histogram<long> { Advice.HistogramBucketBoundaries: { } lb } ? [.. lb.Select(x => (double)x)]
                : LlmServerMetrics.LatencyBuckets;
        }

        public string Name { get; }

        public bool IsObservable { get; }

        public ConcurrentDictionary<string, Series> Series { get; } = new(StringComparer.Ordinal);

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags);
            if (Series.Count >= MaxSeriesPerInstrument && !Series.ContainsKey(labels))
            {
                // NOTE: label values such as model names come from clients; cap the series so memory stays bounded.
                labels = "overflow=\"true\"";
            }
            var series = Series.GetOrAdd(labels, static (_, n) => new Series(n), _kind == Kind.Histogram ? _bounds.Length : 0);
            lock (series)
            {
                switch (_kind)
                {
                    case Kind.Counter when IsObservable:
                    case Kind.Gauge:
                        series.Value = IsObservable ? value : series.Value + value; // UpDownCounter accumulates.
                        break;
                    case Kind.Counter:
                        series.Value += value;
                        break;
                    case Kind.Histogram:
                        var i = 0;
                        while (i < _bounds.Length && value > _bounds[i])
                        {
                            i++;
                        }
                        series.Buckets![i]++;
                        series.Value += value;
                        series.Count++;
                        break;
                }
            }
        }

        public void WriteTo(StringBuilder sb)
        {
            if (Series.IsEmpty)
            {
                return;
            }
            var family = _kind == Kind.Counter && !Name.EndsWith("_total", StringComparison.Ordinal) ? Name + "_total" : Name;
            sb.Append("# HELP ").Append(family).Append(' ').Append(EscapeHelp(_help)).Append('\n');
            sb.Append("# TYPE ").Append(family).Append(' ').Append(_kind switch { Kind.Counter => "counter", Kind.Histogram => "histogram", _ => "gauge" }).Append('\n');
            foreach (var (labels, series) in Series.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                lock (series)
                {
                    if (_kind != Kind.Histogram)
                    {
                        Line(sb, family, labels, null, series.Value);
                        continue;
                    }
                    long cumulative = 0;
                    for (var i = 0; i < _bounds.Length; i++)
                    {
                        cumulative += series.Buckets![i];
                        Line(sb, family + "_bucket", labels, Format(_bounds[i]), cumulative);
                    }
                    cumulative += series.Buckets![_bounds.Length];
                    Line(sb, family + "_bucket", labels, "+Inf", cumulative);
                    Line(sb, family + "_sum", labels, null, series.Value);
                    Line(sb, family + "_count", labels, null, series.Count);
                }
            }
        }

        private static void Line(StringBuilder sb, string name, string labels, string? le, double value)
        {
            sb.Append(name);
            if (labels.Length > 0 || le is not null)
            {
                sb.Append('{').Append(labels);
                if (le is not null)
                {
                    sb.Append(labels.Length > 0 ? "," : "").Append("le=\"").Append(le).Append('"');
                }
                sb.Append('}');
            }
            sb.Append(' ').Append(Format(value)).Append('\n');
        }

        // NOTE: the label text of a tag set is built once and looked up after that: every request records several
        // measurements, and building (sort, sanitise, escape) each time was a visible share of the hot path.
        private readonly ConcurrentDictionary<LabelKey, string> _labelCache = new();

        private string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length is 0 or > 3)
            {
                return BuildLabels(tags);
            }
            var key = new LabelKey(tags);
            if (_labelCache.TryGetValue(key, out var cached))
            {
                return cached;
            }
            var built = BuildLabels(tags);
            if (_labelCache.Count < MaxSeriesPerInstrument)
            {
                _labelCache.TryAdd(key, built);
            }
            return built;
        }

        private static string BuildLabels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return "";
            }
            var sorted = tags.ToArray();
            Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            var sb = new StringBuilder();
            foreach (var (key, value) in sorted)
            {
                if (sb.Length > 0)
                {
                    sb.Append(',');
                }
                sb.Append(Sanitize(key)).Append("=\"").Append(EscapeLabel(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")).Append('"');
            }
            return sb.ToString();
        }
    }

    private sealed class Series(int bucketCount)
    {
        public double Value;
        public long Count;
        public readonly long[]? Buckets = bucketCount > 0 ? new long[bucketCount + 1] : null;
    }

    internal static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Up to three tags, in the order given, compared by their text.</summary>
    private readonly record struct LabelKey(string? K0, string? V0, string? K1, string? V1, string? K2, string? V2)
    {
        public LabelKey(ReadOnlySpan<KeyValuePair<string, object?>> tags)
            : this(tags[0].Key, Text(tags[0].Value),
                tags.Length > 1 ? tags[1].Key : null, tags.Length > 1 ? Text(tags[1].Value) : null,
                tags.Length > 2 ? tags[2].Key : null, tags.Length > 2 ? Text(tags[2].Value) : null)
        {
        }

        private static string? Text(object? value) => value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture);
    }

    internal static string Sanitize(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' or ':' || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                chars[i] = '_';
            }
        }
        return new string(chars);
    }

    internal static string EscapeLabel(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>Creates the collector when the host starts, so no measurement before the first scrape is missed.</summary>
internal sealed class PrometheusCollectorStarter(PrometheusCollector collector) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(collector);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
