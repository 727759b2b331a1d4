using LlmServer.External.Operations;
using LlmServer.Services.Accounting;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>The ledger table on SQLite and PostgreSQL: batches, totals by group, paging.</summary>
[TestFixture(OpsTestDatabases.Sqlite)]
[TestFixture(OpsTestDatabases.Postgres)]
public sealed class LedgerStoreTests(string kind)
{
    private string _dir = null!;
    private OpsDatabase _db = null!;
    private SqlUsageLedgerStore _store = null!;
    private string _run = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = OpsTestDatabases.NewTempDir();
        _db = OpsTestDatabases.Open(kind, 1, _dir)[0];
        _store = new SqlUsageLedgerStore(_db);
        _run = Guid.NewGuid().ToString("N")[..8];
    }

    [TearDown]
    public async Task TearDown()
    {
        await (_db?.DisposeAsync() ?? ValueTask.CompletedTask);
        OpsTestDatabases.DeleteDir(_dir);
    }

    private UsageRecord Row(DateTimeOffset at, string key, string model, int status, long input, long output, decimal? cost, string? session = null) => new()
    {
        Timestamp = at,
        KeyId = key + _run,
        SessionId = session,
        Route = "chat_completions",
        Model = model,
        Upstream = "openai",
        Status = status,
        InputTokens = input,
        CachedTokens = input / 2,
        OutputTokens = output,
        ReasoningTokens = 1,
        CostUsd = cost,
        ApiKeySource = "server",
        LatencyMs = 100,
        OverheadMs = 0.5,
        Stream = true,
        MaskedCounts = new Dictionary<string, int> { ["email"] = 2 },
        ErrorCode = status >= 400 ? "upstream_error" : null,
    };

    [Test]
    public async Task TotalsByModelKeyAndDay_AddUpExactly()
    {
        // A day of its own: the PostgreSQL database is shared by every run.
        var day1 = new DateTimeOffset(2040, 1, 1, 23, 59, 0, TimeSpan.Zero).AddDays(Random.Shared.Next(0, 30_000));
        var day2 = day1.AddMinutes(2);
        await _store.WriteBatchAsync(
        [
            Row(day1, "a", "gpt-4o-mini", 200, 100, 10, 0.000021m, "s1"),
            Row(day1, "a", "gpt-4o", 200, 200, 20, 0.0007m, "s1"),
            Row(day2, "b", "gpt-4o-mini", 502, 50, 0, null),
        ], CancellationToken.None);
        var from = day1.AddHours(-1);
        var to = day2.AddHours(1);

        var byModel = await _store.QueryTotalsAsync(from, to, UsageGroupBy.Model, null, CancellationToken.None);
        var mini = byModel.Single(g => g.Group == "gpt-4o-mini");
        Assert.Multiple(() =>
        {
            Assert.That(mini.Requests, Is.EqualTo(2));
            Assert.That(mini.Errors, Is.EqualTo(1));
            Assert.That(mini.InputTokens, Is.EqualTo(150));
            Assert.That(mini.CachedTokens, Is.EqualTo(75));
            Assert.That(mini.CostUsd, Is.EqualTo(0.000021m));
            Assert.That(byModel.Single(g => g.Group == "gpt-4o").CostUsd, Is.EqualTo(0.0007m));
        });

        var byDay = await _store.QueryTotalsAsync(from, to, UsageGroupBy.Day, null, CancellationToken.None);
        Assert.That(byDay.Select(d => (d.Group, d.Requests)), Is.EqualTo(new[] { (day1.ToString("yyyy-MM-dd"), 2L), (day2.ToString("yyyy-MM-dd"), 1L) }));

        var byKey = await _store.QueryTotalsAsync(from, to, UsageGroupBy.Key, "a" + _run, CancellationToken.None);
        Assert.That(byKey.Single().Requests, Is.EqualTo(2));
        Assert.That(byKey.Single().CostUsd, Is.EqualTo(0.000721m));

        var bySession = await _store.QueryTotalsAsync(from, to, UsageGroupBy.Session, null, CancellationToken.None);
        Assert.That(bySession.Single(s => s.Group == "s1").OutputTokens, Is.EqualTo(30));
    }

    [Test]
    public async Task TimeSeries_BucketsByUtcHourAndSplitsByModel()
    {
        var hour = new DateTimeOffset(2040, 1, 1, 10, 0, 0, TimeSpan.Zero).AddDays(Random.Shared.Next(0, 30_000));
        await _store.WriteBatchAsync(
        [
            Row(hour.AddMinutes(1), "t", "gpt-4o-mini", 200, 10, 1, 0.001m),
            Row(hour.AddMinutes(59), "t", "gpt-4o-mini", 200, 10, 1, 0.001m),
            Row(hour.AddMinutes(59), "t", "gpt-4o", 200, 10, 1, 0.002m),
            Row(hour.AddMinutes(61), "t", "gpt-4o-mini", 200, 10, 1, 0.001m),
        ], CancellationToken.None);

        var series = await _store.QueryTimeSeriesAsync(hour, hour.AddHours(3), TimeSpan.FromHours(1), UsageGroupBy.Model, "t" + _run, CancellationToken.None);
        var whole = await _store.QueryTimeSeriesAsync(hour, hour.AddHours(3), TimeSpan.FromHours(1), null, "t" + _run, CancellationToken.None);

        Assert.That(series.Select(p => (p.Start, p.Totals.Group, p.Totals.Requests)), Is.EqualTo(new[]
        {
            (hour, (string?)"gpt-4o", 1L), (hour, (string?)"gpt-4o-mini", 2L), (hour.AddHours(1), (string?)"gpt-4o-mini", 1L),
        }));
        Assert.That(whole.Select(p => (p.Start, p.Totals.CostUsd)), Is.EqualTo(new[] { (hour, 0.004m), (hour.AddHours(1), 0.001m) }));
    }

    [Test]
    public async Task ListRecent_PagesNewestFirstWithCursorAndKeepsEveryField()
    {
        var t0 = DateTimeOffset.UtcNow;
        await _store.WriteBatchAsync(Enumerable.Range(0, 7).Select(i => Row(t0.AddSeconds(i), "p", $"m{i}", 200, i, i, i * 0.001m)).ToList(), CancellationToken.None);

        var page1 = await _store.ListRecentAsync(3, null, 0, "p" + _run, CancellationToken.None);
        var page2 = await _store.ListRecentAsync(3, page1[^1].Id, 0, "p" + _run, CancellationToken.None);
        var page3 = await _store.ListRecentAsync(3, page2[^1].Id, 0, "p" + _run, CancellationToken.None);

        Assert.That(page1.Concat(page2).Concat(page3).Select(r => r.Record.Model), Is.EqualTo(new[] { "m6", "m5", "m4", "m3", "m2", "m1", "m0" }));
        var r6 = page1[0].Record;
        Assert.Multiple(() =>
        {
            Assert.That(r6.CostUsd, Is.EqualTo(0.006m));
            Assert.That(r6.MaskedCounts!["email"], Is.EqualTo(2));
            Assert.That(r6.Stream, Is.True);
            Assert.That(r6.Timestamp.ToUnixTimeMilliseconds(), Is.EqualTo(t0.AddSeconds(6).ToUnixTimeMilliseconds()));
            Assert.That(r6.ApiKeySource, Is.EqualTo("server"));
            Assert.That(r6.OverheadMs, Is.EqualTo(0.5));
        });
        var offset = await _store.ListRecentAsync(2, null, 5, "p" + _run, CancellationToken.None);
        Assert.That(offset.Select(r => r.Record.Model), Is.EqualTo(new[] { "m1", "m0" }));
    }

    [Test]
    public async Task ALargeBatch_KeepsEveryRowInOrder()
    {
        var t0 = DateTimeOffset.UtcNow;
        await _store.WriteBatchAsync(Enumerable.Range(0, 130).Select(i => Row(t0.AddMilliseconds(i), "b", $"m{i}", 200, i, 1, 0.001m)).ToList(), CancellationToken.None);

        var rows = await _store.ListRecentAsync(200, null, 0, "b" + _run, CancellationToken.None);

        Assert.That(rows.Select(r => r.Record.Model), Is.EqualTo(Enumerable.Range(0, 130).Reverse().Select(i => $"m{i}")));
        Assert.That(rows.Select(r => r.Record.InputTokens).Sum(), Is.EqualTo(Enumerable.Range(0, 130).Sum()));
    }

    [Test]
    public async Task SchemaMigration_RunsOnceEvenWhenInstancesStartTogether()
    {
        var more = OpsTestDatabases.Open(kind, 4, _dir);
        try
        {
            await Task.WhenAll(more.Select(db => db.EnsureMigratedAsync(CancellationToken.None)));
            await using var c = await more[0].OpenAsync(CancellationToken.None);
            var versions = await Dapper.SqlMapper.QueryAsync<int>(c, "SELECT version FROM schema_migrations WHERE area = 'operations' ORDER BY version");
            Assert.That(versions, Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
        }
        finally
        {
            foreach (var db in more)
            {
                await db.DisposeAsync();
            }
        }
    }
}
