using System.Text.Json;
using Dapper;
using LlmServer.Services.Accounting;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace LlmServer.External.Operations;

/// <summary>
/// The usage ledger table. Batches go in one transaction: a prepared insert per row on SQLite, binary COPY on
/// PostgreSQL. Costs are stored as integer nano-USD so totals are exact.
/// </summary>
public sealed class SqlUsageLedgerStore(OpsDatabase db) : IUsageLedgerStore
{
    private const string SelectColumns = """
        id AS Id, ts AS Ts, key_id AS KeyId, session_id AS SessionId, route AS Route, model AS Model, upstream AS Upstream,
        status AS Status, input_tokens AS InputTokens, cached_tokens AS CachedTokens, output_tokens AS OutputTokens,
        reasoning_tokens AS ReasoningTokens, cost_nano AS CostNano, api_key_source AS ApiKeySource, latency_ms AS LatencyMs,
        overhead_ms AS OverheadMs, stream AS Stream, masked_counts AS MaskedCounts, error_code AS ErrorCode, body AS Body,
        cache_creation_5m_tokens AS CacheCreation5mTokens, cache_creation_1h_tokens AS CacheCreation1hTokens
        """;

    public async Task WriteBatchAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            return;
        }
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        if (c is NpgsqlConnection pg)
        {
            await CopyAsync(pg, records, cancellationToken).ConfigureAwait(false);
            return;
        }
        await using var tx = await db.BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        await using var cmd = (SqliteCommand)c.CreateCommand();
        cmd.Transaction = (SqliteTransaction)tx;
        cmd.CommandText = """
            INSERT INTO usage_ledger (ts, key_id, session_id, route, model, upstream, status, input_tokens, cached_tokens, output_tokens,
                reasoning_tokens, cost_nano, api_key_source, latency_ms, overhead_ms, stream, masked_counts, error_code, body,
                cache_creation_5m_tokens, cache_creation_1h_tokens)
            VALUES ($ts, $key_id, $session_id, $route, $model, $upstream, $status, $input, $cached, $output,
                $reasoning, $cost, $source, $latency, $overhead, $stream, $masked, $error, $body, $cache_5m, $cache_1h)
            """;
        var parameters = new SqliteParameter[s_parameterNames.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            parameters[i] = cmd.Parameters.Add(new SqliteParameter { ParameterName = s_parameterNames[i] });
        }
        // NOTE: one statement prepared once and stepped per row, synchronously: SQLite has no asynchronous I/O, and
        // its per-row cost is a bind and a step in C. (Unpacking a JSON array of rows in SQL instead cost several
        // times the CPU per request, in SQLite's JSON functions.)
        cmd.Prepare();
        foreach (var r in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var values = Values(r);
            for (var i = 0; i < parameters.Length; i++)
            {
                parameters[i].Value = values[i] ?? DBNull.Value;
            }
            cmd.ExecuteNonQuery();
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static readonly string[] s_parameterNames =
    [
        "$ts", "$key_id", "$session_id", "$route", "$model", "$upstream", "$status", "$input", "$cached", "$output",
        "$reasoning", "$cost", "$source", "$latency", "$overhead", "$stream", "$masked", "$error", "$body", "$cache_5m", "$cache_1h",
    ];

    private static async Task CopyAsync(NpgsqlConnection c, IReadOnlyList<UsageRecord> records, CancellationToken ct)
    {
        await using var w = await c.BeginBinaryImportAsync("""
            COPY usage_ledger (ts, key_id, session_id, route, model, upstream, status, input_tokens, cached_tokens, output_tokens,
                reasoning_tokens, cost_nano, api_key_source, latency_ms, overhead_ms, stream, masked_counts, error_code, body,
                cache_creation_5m_tokens, cache_creation_1h_tokens) FROM STDIN (FORMAT BINARY)
            """, ct).ConfigureAwait(false);
        foreach (var r in records)
        {
            var v = Values(r);
            await w.StartRowAsync(ct).ConfigureAwait(false);
            await w.WriteAsync((long)v[0]!, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
            for (var i = 1; i <= 5; i++)
            {
                await WriteTextAsync(w, (string?)v[i], ct).ConfigureAwait(false);
            }
            await w.WriteAsync((int)v[6]!, NpgsqlDbType.Integer, ct).ConfigureAwait(false);
            for (var i = 7; i <= 10; i++)
            {
                await w.WriteAsync((long)v[i]!, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
            }
            if (v[11] is long cost)
            {
                await w.WriteAsync(cost, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
            }
            else
            {
                await w.WriteNullAsync(ct).ConfigureAwait(false);
            }
            await WriteTextAsync(w, (string?)v[12], ct).ConfigureAwait(false);
            await w.WriteAsync((double)v[13]!, NpgsqlDbType.Double, ct).ConfigureAwait(false);
            await w.WriteAsync((double)v[14]!, NpgsqlDbType.Double, ct).ConfigureAwait(false);
            await w.WriteAsync((int)v[15]!, NpgsqlDbType.Integer, ct).ConfigureAwait(false);
            for (var i = 16; i <= 18; i++)
            {
                await WriteTextAsync(w, (string?)v[i], ct).ConfigureAwait(false);
            }
            await w.WriteAsync((long)v[19]!, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
            await w.WriteAsync((long)v[20]!, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
        }
        await w.CompleteAsync(ct).ConfigureAwait(false);
    }

    private static Task WriteTextAsync(NpgsqlBinaryImporter w, string? value, CancellationToken ct) =>
        value is null ? w.WriteNullAsync(ct) : w.WriteAsync(value, NpgsqlDbType.Text, ct);

    private static object?[] Values(UsageRecord r) =>
    [
        r.Timestamp.ToUnixTimeMilliseconds(), r.KeyId, r.SessionId, r.Route, r.Model, r.Upstream, r.Status,
        r.InputTokens, r.CachedTokens, r.OutputTokens, r.ReasoningTokens,
        r.CostUsd is decimal usd ? (object)(long)decimal.Round(usd * 1_000_000_000m) : null,
        r.ApiKeySource, r.LatencyMs, r.OverheadMs, r.Stream ? 1 : 0,
        r.MaskedCounts is { Count: > 0 } m ? JsonSerializer.Serialize(m) : null,
        r.ErrorCode, r.Body, r.CacheCreation5mTokens, r.CacheCreation1hTokens,
    ];

    public async Task<IReadOnlyList<UsageBucket>> QueryTimeSeriesAsync(DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, UsageGroupBy? splitBy, string? keyId, CancellationToken cancellationToken)
    {
        var group = splitBy switch
        {
            null => "NULL",
            UsageGroupBy.Key => "key_id",
            UsageGroupBy.Model => "model",
            UsageGroupBy.Session => "session_id",
            _ => db.UtcDay("ts"),
        };
        var sql = $"""
            SELECT (ts / @bucketMs) * @bucketMs AS BucketStart, {group} AS "Group", COUNT(*) AS Requests,
                {db.SumInt("CASE WHEN status >= 400 THEN 1 ELSE 0 END")} AS Errors,
                {db.SumInt("input_tokens")} AS InputTokens, {db.SumInt("cached_tokens")} AS CachedTokens,
                {db.SumInt("cache_creation_5m_tokens")} AS CacheCreation5mTokens, {db.SumInt("cache_creation_1h_tokens")} AS CacheCreation1hTokens,
                {db.SumInt("output_tokens")} AS OutputTokens, {db.SumInt("reasoning_tokens")} AS ReasoningTokens,
                {db.SumInt("cost_nano")} AS CostNano, COALESCE(AVG(latency_ms), 0) AS AvgLatencyMs
            FROM usage_ledger WHERE ts >= @from AND ts < @to {(keyId is null ? "" : "AND key_id = @keyId")}
            GROUP BY 1, 2 ORDER BY 1, 2
            """;
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<TotalsRow>(new CommandDefinition(sql,
            new { from = from.ToUnixTimeMilliseconds(), to = to.ToUnixTimeMilliseconds(), keyId, bucketMs = (long)bucket.TotalMilliseconds },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new UsageBucket(DateTimeOffset.FromUnixTimeMilliseconds(r.BucketStart), r.ToTotals())).ToList();
    }

    public async Task<IReadOnlyList<UsageTotals>> QueryTotalsAsync(DateTimeOffset from, DateTimeOffset to, UsageGroupBy groupBy, string? keyId, CancellationToken cancellationToken)
    {
        var group = groupBy switch
        {
            UsageGroupBy.Key => "key_id",
            UsageGroupBy.Model => "model",
            UsageGroupBy.Session => "session_id",
            _ => db.UtcDay("ts"),
        };
        var sql = $"""
            SELECT {group} AS "Group", COUNT(*) AS Requests, {db.SumInt("CASE WHEN status >= 400 THEN 1 ELSE 0 END")} AS Errors,
                {db.SumInt("input_tokens")} AS InputTokens, {db.SumInt("cached_tokens")} AS CachedTokens,
                {db.SumInt("cache_creation_5m_tokens")} AS CacheCreation5mTokens, {db.SumInt("cache_creation_1h_tokens")} AS CacheCreation1hTokens,
                {db.SumInt("output_tokens")} AS OutputTokens, {db.SumInt("reasoning_tokens")} AS ReasoningTokens,
                {db.SumInt("cost_nano")} AS CostNano, COALESCE(AVG(latency_ms), 0) AS AvgLatencyMs
            FROM usage_ledger WHERE ts >= @from AND ts < @to {(keyId is null ? "" : "AND key_id = @keyId")}
            GROUP BY 1 ORDER BY 1
            """;
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<TotalsRow>(new CommandDefinition(sql,
            new { from = from.ToUnixTimeMilliseconds(), to = to.ToUnixTimeMilliseconds(), keyId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToTotals()).ToList();
    }

    public async Task<IReadOnlyList<StoredUsageRecord>> ListRecentAsync(int limit, long? beforeId, int offset, string? keyId, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        if (beforeId is not null)
        {
            where.Add("id < @beforeId");
        }
        if (keyId is not null)
        {
            where.Add("key_id = @keyId");
        }
        var sql = $"SELECT {SelectColumns} FROM usage_ledger {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY id DESC LIMIT @limit OFFSET @offset";
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<LedgerRow>(new CommandDefinition(sql, new { beforeId, keyId, limit, offset }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new StoredUsageRecord(r.Id, r.ToRecord())).ToList();
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM usage_ledger", cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    private sealed class TotalsRow
    {
        public long BucketStart { get; set; }
        public string? Group { get; set; }
        public long Requests { get; set; }
        public long Errors { get; set; }
        public long InputTokens { get; set; }
        public long CachedTokens { get; set; }
        public long CacheCreation5mTokens { get; set; }
        public long CacheCreation1hTokens { get; set; }
        public long OutputTokens { get; set; }
        public long ReasoningTokens { get; set; }
        public long CostNano { get; set; }
        public double AvgLatencyMs { get; set; }

        public UsageTotals ToTotals() => new()
        {
            Group = Group,
            Requests = Requests,
            Errors = Errors,
            InputTokens = InputTokens,
            CachedTokens = CachedTokens,
            CacheCreation5mTokens = CacheCreation5mTokens,
            CacheCreation1hTokens = CacheCreation1hTokens,
            OutputTokens = OutputTokens,
            ReasoningTokens = ReasoningTokens,
            CostUsd = CostNano / 1_000_000_000m,
            AvgLatencyMs = AvgLatencyMs,
        };
    }

    private sealed class LedgerRow
    {
        public long Id { get; set; }
        public long Ts { get; set; }
        public string? KeyId { get; set; }
        public string? SessionId { get; set; }
        public string Route { get; set; } = "";
        public string? Model { get; set; }
        public string? Upstream { get; set; }
        public int Status { get; set; }
        public long InputTokens { get; set; }
        public long CachedTokens { get; set; }
        public long CacheCreation5mTokens { get; set; }
        public long CacheCreation1hTokens { get; set; }
        public long OutputTokens { get; set; }
        public long ReasoningTokens { get; set; }
        public long? CostNano { get; set; }
        public string? ApiKeySource { get; set; }
        public double LatencyMs { get; set; }
        public double OverheadMs { get; set; }
        public long Stream { get; set; }
        public string? MaskedCounts { get; set; }
        public string? ErrorCode { get; set; }
        public string? Body { get; set; }

        public UsageRecord ToRecord() => new()
        {
            Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(Ts),
            KeyId = KeyId,
            SessionId = SessionId,
            Route = Route,
            Model = Model,
            Upstream = Upstream,
            Status = Status,
            InputTokens = InputTokens,
            CachedTokens = CachedTokens,
            CacheCreation5mTokens = CacheCreation5mTokens,
            CacheCreation1hTokens = CacheCreation1hTokens,
            OutputTokens = OutputTokens,
            ReasoningTokens = ReasoningTokens,
            CostUsd = CostNano is long n ? n / 1_000_000_000m : null,
            ApiKeySource = ApiKeySource,
            LatencyMs = LatencyMs,
            OverheadMs = OverheadMs,
            Stream = Stream != 0,
            MaskedCounts = MaskedCounts is null ? null : JsonSerializer.Deserialize<Dictionary<string, int>>(MaskedCounts),
            ErrorCode = ErrorCode,
            Body = Body,
        };
    }
}
