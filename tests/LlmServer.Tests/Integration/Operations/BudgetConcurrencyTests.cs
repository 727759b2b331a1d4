using LlmServer.External.Operations;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Options;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>
/// Budgets against real databases with several independent "instances" (separate connection pools / store objects):
/// concurrent reservations never overspend.
/// </summary>
[TestFixture(OpsTestDatabases.Sqlite)]
[TestFixture(OpsTestDatabases.Postgres)]
public sealed class BudgetConcurrencyTests(string kind)
{
    private const int Instances = 4;
    private string _dir = null!;
    private List<OpsDatabase> _dbs = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = OpsTestDatabases.NewTempDir();
        _dbs = OpsTestDatabases.Open(kind, Instances, _dir);
    }

    [TearDown]
    public async Task TearDown()
    {
        foreach (var db in _dbs ?? [])
        {
            await db.DisposeAsync();
        }
        OpsTestDatabases.DeleteDir(_dir);
    }

    [Test]
    public async Task ConcurrentReservationsOverInstances_ReserveExactlyWhatFitsUnderTheLimit()
    {
        var keyId = "vk_" + Guid.NewGuid().ToString("N");
        var stores = _dbs.Select(db => new SqlBudgetStore(db)).ToArray();
        const long limit = 1_000_000_000;     // 1 USD
        const long amount = 30_000_000;       // 0.03 USD
        BudgetWindow[] windows = [new("total", limit), new("d:2026-11-21", limit)];

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(() => stores[i % Instances].TryReserveAsync(keyId, windows, amount, CancellationToken.None))));

        Assert.That(results.Count(r => r), Is.EqualTo((int)(limit / amount)), "every reservation that fits succeeds, no more");
        foreach (var period in new[] { "total", "d:2026-11-21" })
        {
            var row = await stores[0].GetAsync(keyId, period, CancellationToken.None);
            Assert.That(row!.Value.ReservedNanoUsd, Is.EqualTo(limit / amount * amount));
            Assert.That(row.Value.ReservedNanoUsd, Is.LessThanOrEqualTo(limit));
        }
    }

    [Test]
    public async Task ConcurrentRequestsThroughBudgetServices_NeverSpendMoreThanTheLimit()
    {
        var key = new VirtualKey
        {
            Id = "vk_" + Guid.NewGuid().ToString("N"),
            Prefix = "sk-llms-test",
            KeyHash = "x",
            Spec = new VirtualKeySpec { Budget = new KeyBudget { TotalUsd = 0.05m, DailyUsd = 0.04m } },
        };
        var pricing = Options.Create(new PricingOptions { Models = { ["gpt-4o-mini"] = new ModelPrice { Input = 0.15m, Output = 0.60m } } });
        var monitor = new StaticMonitor<PricingOptions>(pricing.Value);
        using var meterFactory = new TestMeterFactory();
        using var metrics = new LlmServerMetrics(meterFactory);
        var services = _dbs.Select(db => new BudgetService(new SqlBudgetStore(db), new CostCalculator(monitor),
            Options.Create(new OperationsOptions()), metrics, TimeProvider.System)).ToArray();
        var calculator = new CostCalculator(monitor);
        // Worst case per request: 1000 prompt + 500 output tokens = 0.00045 USD; real use is a random part of it.
        var admitted = 0;
        var refused = 0;
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            var service = services[i % Instances];
            var decision = await service.ReserveAsync(key, "gpt-4o-mini", 1000, 500, CancellationToken.None);
            if (!decision.Allowed)
            {
                Interlocked.Increment(ref refused);
                Assert.That(decision.Message, Does.Contain("Budget exceeded"));
                return;
            }
            Interlocked.Increment(ref admitted);
            await Task.Yield();
            if (i % 10 == 0)
            {
                await service.ReleaseAsync(decision.Reservation!, CancellationToken.None); // the upstream call failed
                return;
            }
            var actual = calculator.Compute("gpt-4o-mini", new TokenUsage(1000, 0, Random.Shared.Next(0, 501)));
            await service.SettleAsync(decision.Reservation!, actual.Usd, CancellationToken.None);
        })));

        var store = new SqlBudgetStore(_dbs[0]);
        var day = BudgetService.Windows(key.Spec.Budget, DateTimeOffset.UtcNow).Single(w => w.Period.StartsWith("d:", StringComparison.Ordinal));
        var daily = (await store.GetAsync(key.Id, day.Period, CancellationToken.None))!.Value;
        var total = (await store.GetAsync(key.Id, "total", CancellationToken.None))!.Value;
        Assert.Multiple(() =>
        {
            Assert.That(admitted, Is.GreaterThan(0));
            Assert.That(refused, Is.GreaterThan(0), "the budget is small enough that some requests must be refused");
            Assert.That(daily.ReservedNanoUsd, Is.Zero, "every reservation was settled or released");
            Assert.That(daily.SpentNanoUsd, Is.LessThanOrEqualTo(BudgetService.ToNano(0.04m)));
            Assert.That(total.SpentNanoUsd, Is.EqualTo(daily.SpentNanoUsd));
        });
    }

    [Test]
    public async Task ReservationLargerThanWhatIsLeft_IsRefusedAndLeavesNoTrace()
    {
        var keyId = "vk_" + Guid.NewGuid().ToString("N");
        var store = new SqlBudgetStore(_dbs[0]);
        BudgetWindow[] windows = [new("total", 100), new("m:2026-11", 1000)];

        Assert.That(await store.TryReserveAsync(keyId, windows, 60, CancellationToken.None), Is.True);
        Assert.That(await store.TryReserveAsync(keyId, windows, 60, CancellationToken.None), Is.False, "total would reach 120 > 100");
        var month = await store.GetAsync(keyId, "m:2026-11", CancellationToken.None);
        Assert.That(month!.Value.ReservedNanoUsd, Is.EqualTo(60), "the refused reservation rolled back on every period");

        await store.SettleAsync(keyId, ["total", "m:2026-11"], 60, 25, CancellationToken.None);
        var total = await store.GetAsync(keyId, "total", CancellationToken.None);
        Assert.That(total, Is.EqualTo((25L, 0L)));
        Assert.That(await store.TryReserveAsync(keyId, windows, 75, CancellationToken.None), Is.True, "settled to the real cost frees the rest");
    }

    private sealed class StaticMonitor<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;
        public T Get(string? name) => value;
        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}

/// <summary>A minimal IMeterFactory for tests that build services by hand.</summary>
internal sealed class TestMeterFactory : System.Diagnostics.Metrics.IMeterFactory
{
    private readonly List<System.Diagnostics.Metrics.Meter> _meters = [];

    public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
    {
        var meter = new System.Diagnostics.Metrics.Meter(options.Name, options.Version, options.Tags, scope: this);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var m in _meters)
        {
            m.Dispose();
        }
    }
}
