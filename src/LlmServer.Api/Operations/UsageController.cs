using System.Globalization;
using LlmServer.Dto.Operations;
using LlmServer.Services.Accounting;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Operations;

/// <summary>Usage totals and recent requests from the ledger. Master key when one is set.</summary>
[ApiController]
[Route("api/v1/usage")]
[MasterKey(required: false)]
[Produces("application/json")]
public sealed class UsageController(IUsageLedgerStore ledger, TimeProvider time) : ControllerBase
{
    /// <summary>Totals and cost grouped by key | model | day | session for from &lt;= time &lt; to (default: the last 30 days).</summary>
    [HttpGet]
    [ProducesResponseType<OkDto<UsageReportDto>>(StatusCodes.Status200OK)]
    public async Task<IActionResult> Totals(
        [FromQuery] string? from, [FromQuery] string? to,
        [FromQuery(Name = "group_by")] string? groupBy, [FromQuery(Name = "key_id")] string? keyId,
        CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!TryParseTime(to, now, out var toTime) || !TryParseTime(from, toTime.AddDays(-30), out var fromTime))
        {
            return ApiError.Create(HttpContext, 400, "invalid_request", "from and to must be ISO 8601 dates/times (e.g. 2026-11-01 or 2026-11-01T00:00:00Z) or unix seconds.");
        }
        if (fromTime >= toTime)
        {
            return ApiError.Create(HttpContext, 400, "invalid_request", "from must be before to.");
        }
        UsageGroupBy group;
        switch ((groupBy ?? "model").ToLowerInvariant())
        {
            case "key": group = UsageGroupBy.Key; break;
            case "model": group = UsageGroupBy.Model; break;
            case "day": group = UsageGroupBy.Day; break;
            case "session": group = UsageGroupBy.Session; break;
            default:
                return ApiError.Create(HttpContext, 400, "invalid_request", "group_by must be one of key, model, day, session.");
        }
        var rows = await ledger.QueryTotalsAsync(fromTime, toTime, group, string.IsNullOrEmpty(keyId) ? null : keyId, cancellationToken);
        var groups = rows.Select(ToDto).ToList();
        var total = new UsageGroupDto
        {
            Requests = groups.Sum(g => g.Requests),
            Errors = groups.Sum(g => g.Errors),
            InputTokens = groups.Sum(g => g.InputTokens),
            CachedTokens = groups.Sum(g => g.CachedTokens),
            CacheCreation5mTokens = groups.Sum(g => g.CacheCreation5mTokens),
            CacheCreation1hTokens = groups.Sum(g => g.CacheCreation1hTokens),
            OutputTokens = groups.Sum(g => g.OutputTokens),
            ReasoningTokens = groups.Sum(g => g.ReasoningTokens),
            CostUsd = groups.Sum(g => g.CostUsd),
            AvgLatencyMs = groups.Sum(g => g.Requests) is long n and > 0 ? groups.Sum(g => g.AvgLatencyMs * g.Requests) / n : 0,
        };
        return Ok(new OkDto<UsageReportDto>(new UsageReportDto { From = fromTime, To = toTime, GroupBy = group.ToString().ToLowerInvariant(), Groups = groups, Total = total }));
    }

    /// <summary>
    /// Totals per time bucket (bucket=minute|hour|day, UTC-aligned) for charts, optionally split by key or model
    /// (by=key|model). Default range: the last 24 hours.
    /// </summary>
    [HttpGet("timeseries")]
    public async Task<IActionResult> TimeSeries(
        [FromQuery] string? from, [FromQuery] string? to, [FromQuery] string? bucket, [FromQuery] string? by,
        [FromQuery(Name = "key_id")] string? keyId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!TryParseTime(to, now, out var toTime) || !TryParseTime(from, toTime.AddDays(-1), out var fromTime) || fromTime >= toTime)
        {
            return ApiError.Create(HttpContext, 400, "invalid_request", "from and to must be ISO 8601 or unix seconds, with from before to.");
        }
        TimeSpan size;
        switch ((bucket ?? "hour").ToLowerInvariant())
        {
            case "minute": size = TimeSpan.FromMinutes(1); break;
            case "hour": size = TimeSpan.FromHours(1); break;
            case "day": size = TimeSpan.FromDays(1); break;
            default:
                return ApiError.Create(HttpContext, 400, "invalid_request", "bucket must be minute, hour or day.");
        }
        if ((toTime - fromTime) / size > 10_000)
        {
            return ApiError.Create(HttpContext, 400, "invalid_request", "the range holds more than 10000 buckets; use a larger bucket.");
        }
        UsageGroupBy? split;
        switch (by?.ToLowerInvariant())
        {
            case null or "" or "none": split = null; break;
            case "key": split = UsageGroupBy.Key; break;
            case "model": split = UsageGroupBy.Model; break;
            default:
                return ApiError.Create(HttpContext, 400, "invalid_request", "by must be key, model or none.");
        }
        var rows = await ledger.QueryTimeSeriesAsync(fromTime, toTime, size, split, string.IsNullOrEmpty(keyId) ? null : keyId, cancellationToken);
        return Ok(new
        {
            success = true,
            data = new
            {
                from = fromTime,
                to = toTime,
                bucket = (bucket ?? "hour").ToLowerInvariant(),
                by = split?.ToString().ToLowerInvariant(),
                points = rows.Select(r => new { start = r.Start, group = r.Totals.Group, totals = ToDto(r.Totals) }),
            },
        });
    }

    /// <summary>Recent requests, newest first. Page with ?limit= and ?cursor= (from next_cursor) or ?offset=.</summary>
    [HttpGet("requests")]
    [ProducesResponseType<OkDto<UsageRequestsPageDto>>(StatusCodes.Status200OK)]
    public async Task<IActionResult> Requests(
        [FromQuery] int? limit, [FromQuery] int? offset, [FromQuery] string? cursor, [FromQuery(Name = "key_id")] string? keyId,
        CancellationToken cancellationToken)
    {
        var size = limit ?? 50;
        if (size is < 1 or > 1000 || offset is < 0)
        {
            return ApiError.Create(HttpContext, 400, "invalid_request", "limit must be 1..1000 and offset must not be negative.");
        }
        long? before = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                return ApiError.Create(HttpContext, 400, "invalid_request", "cursor must be a next_cursor value from a previous page.");
            }
            before = id;
        }
        var rows = await ledger.ListRecentAsync(size + 1, before, offset ?? 0, string.IsNullOrEmpty(keyId) ? null : keyId, cancellationToken);
        var page = rows.Take(size).Select(r => new UsageRequestDto
        {
            Id = r.Id,
            Timestamp = r.Record.Timestamp,
            KeyId = r.Record.KeyId,
            SessionId = r.Record.SessionId,
            Route = r.Record.Route,
            Model = r.Record.Model,
            Upstream = r.Record.Upstream,
            Status = r.Record.Status,
            InputTokens = r.Record.InputTokens,
            CachedTokens = r.Record.CachedTokens,
            CacheCreation5mTokens = r.Record.CacheCreation5mTokens,
            CacheCreation1hTokens = r.Record.CacheCreation1hTokens,
            OutputTokens = r.Record.OutputTokens,
            ReasoningTokens = r.Record.ReasoningTokens,
            CostUsd = r.Record.CostUsd,
            ApiKeySource = r.Record.ApiKeySource,
            LatencyMs = r.Record.LatencyMs,
            OverheadMs = r.Record.OverheadMs,
            Stream = r.Record.Stream,
            MaskedCounts = r.Record.MaskedCounts is { } m ? new Dictionary<string, int>(m) : null,
            ErrorCode = r.Record.ErrorCode,
        }).ToList();
        var next = rows.Count > size ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return Ok(new OkDto<UsageRequestsPageDto>(new UsageRequestsPageDto { Data = page, NextCursor = next }));
    }

    private static UsageGroupDto ToDto(UsageTotals t) => new()
    {
        Group = t.Group,
        Requests = t.Requests,
        Errors = t.Errors,
        InputTokens = t.InputTokens,
        CachedTokens = t.CachedTokens,
        CacheCreation5mTokens = t.CacheCreation5mTokens,
        CacheCreation1hTokens = t.CacheCreation1hTokens,
        OutputTokens = t.OutputTokens,
        ReasoningTokens = t.ReasoningTokens,
        CostUsd = t.CostUsd,
        AvgLatencyMs = Math.Round(t.AvgLatencyMs, 3),
    };

    private static bool TryParseTime(string? value, DateTimeOffset fallback, out DateTimeOffset result)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            result = fallback;
            return true;
        }
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var unix) && unix < 100_000_000_000)
        {
            result = DateTimeOffset.FromUnixTimeSeconds(unix);
            return true;
        }
        // NOTE: the report windows are computed from these (to - 30 days, buckets); dates outside the ledger's
        // possible range would overflow that arithmetic, so they are refused like any other unreadable date.
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out result)
            && result >= s_earliest && result <= s_latest;
    }

    private static readonly DateTimeOffset s_earliest = new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset s_latest = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);
}
