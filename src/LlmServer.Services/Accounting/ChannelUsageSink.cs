using System.Threading.Channels;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Accounting;

/// <summary>
/// The hot path's side of the ledger: a bounded in-memory queue. <see cref="Record"/> never blocks or throws;
/// it counts the row in the metrics (so every surface is counted exactly once) and hands it to
/// <see cref="UsageLedgerWriter"/>, which writes batches and drains the queue on shutdown.
/// </summary>
public sealed partial class ChannelUsageSink : IUsageSink
{
    private readonly Channel<UsageRecord> _channel;
    private readonly LlmServerMetrics _metrics;
    private readonly LlmServerTelemetry? _telemetry;
    private readonly ILogger<ChannelUsageSink> _logger;
    private readonly bool _logBodies;

    private readonly CancellationToken _stopping;

    public ChannelUsageSink(IOptions<OperationsOptions> options, LlmServerMetrics metrics, ILogger<ChannelUsageSink> logger,
        IHostApplicationLifetime? lifetime = null, LlmServerTelemetry? telemetry = null)
    {
        _stopping = lifetime?.ApplicationStopping ?? CancellationToken.None;
        _metrics = metrics;
        _telemetry = telemetry;
        _logger = logger;
        _logBodies = options.Value.LogBodies;
        _channel = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(Math.Max(1, options.Value.Ledger.QueueCapacity))
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of silently dropping an old row.
            SingleReader = false, // the writer loop and the shutdown drain may overlap.
            SingleWriter = false,
        });
        metrics.ObserveLedgerQueue(() => _channel.Reader.Count);
    }

    /// <summary>The ledger's error code for a request cancelled because the server stopped.</summary>
    public const string ShutdownErrorCode = "server_shutdown";

    /// <summary>Rows waiting to be written.</summary>
    public int QueueDepth => _channel.Reader.Count;

    internal ChannelReader<UsageRecord> Reader => _channel.Reader;

    /// <inheritdoc />
    public void Record(UsageRecord record)
    {
        if (!_logBodies && record.Body is not null)
        {
            record = record with { Body = null };
        }
        if (record.Status == 499 && _stopping.IsCancellationRequested)
        {
            // NOTE: the server cut this request at the end of its shutdown drain; the client did not go away.
            record = record with { ErrorCode = ShutdownErrorCode };
        }
        try
        {
            _metrics.RecordUsage(record);
            _telemetry?.RecordExchange(record);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogMetricsFailed(ex);
        }
        if (!_channel.Writer.TryWrite(record))
        {
            _metrics.RecordLedgerDropped();
            LogDropped(record.Route);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Usage ledger queue is full; a {Route} row was dropped (raise LlmServer:Operations:Ledger:QueueCapacity or check the store).")]
    private partial void LogDropped(string route);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording usage metrics failed.")]
    private partial void LogMetricsFailed(Exception ex);
}
