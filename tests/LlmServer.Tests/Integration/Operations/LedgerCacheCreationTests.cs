using LlmServer.External.Operations;
using LlmServer.Services.Accounting;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>Prompt-cache writes by lifetime in the ledger table, on SQLite and PostgreSQL (the migration adds them to existing tables).</summary>
[TestFixture(OpsTestDatabases.Sqlite)]
[TestFixture(OpsTestDatabases.Postgres)]
public sealed class LedgerCacheCreationTests(string kind)
{
    private string _dir = null!;
    private OpsDatabase _db = null!;
    private SqlUsageLedgerStore _store = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = OpsTestDatabases.NewTempDir();
        _db = OpsTestDatabases.Open(kind, 1, _dir)[0];
        _store = new SqlUsageLedgerStore(_db);
    }

    [TearDown]
    public async Task TearDown()
    {
        await (_db?.DisposeAsync() ?? ValueTask.CompletedTask);
        OpsTestDatabases.DeleteDir(_dir);
    }

    [Test]
    public async Task CacheWrites_AreStoredPerRow_AndAddUpInTotals()
    {
        // A time of its own: the PostgreSQL database is shared by every run.
        var at = new DateTimeOffset(2041, 1, 1, 12, 0, 0, TimeSpan.Zero).AddMinutes(Random.Shared.Next(0, 10_000_000));
        var model = "claude-cache-" + Guid.NewGuid().ToString("N")[..8];
        UsageRecord Row(long fiveMinutes, long oneHour) => new()
        {
            Timestamp = at, Route = "messages", Model = model, Status = 200,
            InputTokens = 1000, CachedTokens = 100, CacheCreation5mTokens = fiveMinutes, CacheCreation1hTokens = oneHour, OutputTokens = 10,
        };
        await _store.WriteBatchAsync([Row(200, 300), Row(50, 0)], CancellationToken.None);

        var totals = (await _store.QueryTotalsAsync(at.AddMinutes(-1), at.AddMinutes(1), UsageGroupBy.Model, null, CancellationToken.None))
            .Single(t => t.Group == model);
        var series = (await _store.QueryTimeSeriesAsync(at.AddMinutes(-1), at.AddMinutes(1), TimeSpan.FromHours(1), UsageGroupBy.Model, null, CancellationToken.None))
            .Single(b => b.Totals.Group == model);
        var recent = (await _store.ListRecentAsync(50, null, 0, null, CancellationToken.None)).Where(r => r.Record.Model == model).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(totals.CacheCreation5mTokens, Is.EqualTo(250));
            Assert.That(totals.CacheCreation1hTokens, Is.EqualTo(300));
            Assert.That(totals.CachedTokens, Is.EqualTo(200));
            Assert.That(series.Totals.CacheCreation1hTokens, Is.EqualTo(300));
            Assert.That(recent.Select(r => (r.Record.CacheCreation5mTokens, r.Record.CacheCreation1hTokens)), Is.EquivalentTo(new[] { (200L, 300L), (50L, 0L) }));
        });
    }
}
