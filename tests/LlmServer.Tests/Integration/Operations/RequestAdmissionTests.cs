using LlmServer.External.Operations;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>The admission sequence an API surface runs before its upstream call (real SQLite budget store).</summary>
[TestFixture]
public sealed class RequestAdmissionTests
{
    // NOTE: 15 s into a minute; rate-limit windows and budget periods follow this clock, not the wall.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 2, 10, 15, 15, TimeSpan.Zero));
    private string _dir = null!;
    private SqliteOpsDatabase _db = null!;
    private TestMeterFactory _meters = null!;
    private LlmServerMetrics _metrics = null!;
    private GlobalConcurrencyLimiter _concurrency = null!;
    private SqlBudgetStore _store = null!;
    private RequestAdmission _admission = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = OpsTestDatabases.NewTempDir();
        _db = new SqliteOpsDatabase(Path.Combine(_dir, "ops.db"));
        _meters = new TestMeterFactory();
        _metrics = new LlmServerMetrics(_meters);
        var ops = Options.Create(new OperationsOptions { RateLimits = new RateLimitOptions { GlobalConcurrency = 1, GlobalQueue = 0 } });
        _concurrency = new GlobalConcurrencyLimiter(ops, _metrics);
        _store = new SqlBudgetStore(_db);
        var prices = new PricingOptions { Models = { ["gpt-4o-mini"] = new ModelPrice { Input = 0.15m, Output = 0.60m } } };
        var budgets = new BudgetService(_store, new CostCalculator(new Monitor(prices)), ops, _metrics, _time);
        _admission = new RequestAdmission(_concurrency, new LocalKeyRateLimiter(_time), budgets, _metrics);
    }

    [TearDown]
    public void TearDown()
    {
        _concurrency.Dispose();
        _metrics.Dispose();
        _meters.Dispose();
        OpsTestDatabases.DeleteDir(_dir);
    }

    private static VirtualKey Key(decimal? total = null, int? rpm = null, params string[] models) => new()
    {
        Id = "vk_" + Guid.NewGuid().ToString("N"),
        Prefix = "sk-llms-abcd",
        KeyHash = "h",
        Spec = new VirtualKeySpec { AllowedModels = models, Budget = new KeyBudget { TotalUsd = total }, Rpm = rpm },
    };

    [Test]
    public async Task ModelOutsideTheAllowList_IsNotAdmitted()
    {
        var result = await _admission.AdmitAsync(Key(models: "gpt-4o-mini"), "gpt-4o", 10, 10, CancellationToken.None);

        Assert.That(result.Outcome, Is.EqualTo(AdmissionOutcome.ModelNotAllowed));
        Assert.That(result.Message, Does.Contain("gpt-4o"));
    }

    [Test]
    public async Task WorstCaseAboveTheBudget_IsBudgetExceeded_AndFreesTheConcurrencySlot()
    {
        var key = Key(total: 0.001m);

        // 1000 prompt + 2000 output tokens of gpt-4o-mini = 0.00135 USD > 0.001.
        var refused = await _admission.AdmitAsync(key, "gpt-4o-mini", 1000, 2000, CancellationToken.None);
        var admitted = await _admission.AdmitAsync(key, "gpt-4o-mini", 1000, 1000, CancellationToken.None);

        Assert.That(refused.Outcome, Is.EqualTo(AdmissionOutcome.BudgetExceeded));
        Assert.That(refused.Message, Does.Contain("Budget exceeded"));
        Assert.That(admitted.Admitted, Is.True, "the refused request did not keep the only concurrency slot");
        await admitted.Ticket!.DisposeAsync();
    }

    [Test]
    public async Task TicketCompletedWithRealCost_SettlesSpent_DisposedTicketReleases()
    {
        var key = Key(total: 1m);
        var first = await _admission.AdmitAsync(key, "gpt-4o-mini", 1000, 1000, CancellationToken.None);
        Assert.That((await _store.GetAsync(key.Id, "total", CancellationToken.None))!.Value.ReservedNanoUsd, Is.EqualTo(750_000));

        await first.Ticket!.CompleteAsync(1000, 100, 0.00021m, CancellationToken.None);
        var second = await _admission.AdmitAsync(key, "gpt-4o-mini", 1000, 1000, CancellationToken.None);
        await second.Ticket!.DisposeAsync(); // upstream failed

        Assert.That(await _store.GetAsync(key.Id, "total", CancellationToken.None), Is.EqualTo((210_000L, 0L)));
    }

    [Test]
    public async Task RpmExceeded_IsRateLimitedWithRetryAfter()
    {
        var key = Key(rpm: 1);
        var first = await _admission.AdmitAsync(key, "gpt-4o-mini", 1, 1, CancellationToken.None);
        await first.Ticket!.DisposeAsync();

        var second = await _admission.AdmitAsync(key, "gpt-4o-mini", 1, 1, CancellationToken.None);

        Assert.That(second.Outcome, Is.EqualTo(AdmissionOutcome.RateLimited));
        Assert.That(second.RetryAfterSeconds, Is.EqualTo(45), "until the minute's window ends");
    }

    private sealed class Monitor(PricingOptions value) : IOptionsMonitor<PricingOptions>
    {
        public PricingOptions CurrentValue => value;
        public PricingOptions Get(string? name) => value;
        public IDisposable? OnChange(Action<PricingOptions, string?> listener) => null;
    }
}
