using LlmServer.External.Operations;
using LlmServer.Services.Limits;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>Per-key rpm/tpm windows: local, Redis (LLMSERVER_TEST_REDIS) and PostgreSQL, several instances sharing one.</summary>
[TestFixture("local")]
[TestFixture("redis")]
[TestFixture("postgres")]
public sealed class RateLimitTests(string backend)
{
    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly List<IDisposable> _disposables2 = [];

    [TearDown]
    public async Task TearDown()
    {
        foreach (var d in _disposables)
        {
            await d.DisposeAsync();
        }
        foreach (var d in _disposables2)
        {
            d.Dispose();
        }
        _disposables.Clear();
        _disposables2.Clear();
    }

    /// <summary>Independent limiter objects (separate connections), as separate server instances would hold.</summary>
    private IKeyRateLimiter[] Instances(int count)
    {
        switch (backend)
        {
            case "local":
                var one = new LocalKeyRateLimiter(TimeProvider.System);
                return Enumerable.Repeat<IKeyRateLimiter>(one, count).ToArray();
            case "redis":
                var endpoint = Environment.GetEnvironmentVariable("LLMSERVER_TEST_REDIS");
                if (string.IsNullOrEmpty(endpoint))
                {
                    Assert.Ignore("LLMSERVER_TEST_REDIS is not set: run `source scripts/services.sh; services_start` to test against redis-server.");
                }
                return Enumerable.Range(0, count).Select(_ =>
                {
                    var mux = ConnectionMultiplexer.Connect(RedisKeyRateLimiter.ToConfiguration("redis://" + endpoint));
                    var limiter = new RedisKeyRateLimiter(mux, TimeProvider.System);
                    _disposables2.Add(limiter);
                    return (IKeyRateLimiter)limiter;
                }).ToArray();
            default:
                var dbs = OpsTestDatabases.Open(OpsTestDatabases.Postgres, count, Path.GetTempPath());
                _disposables.AddRange(dbs);
                return dbs.Select(db => (IKeyRateLimiter)new SqlKeyRateLimiter(db, TimeProvider.System)).ToArray();
        }
    }

    [Test]
    public async Task ConcurrentRequestsOverInstances_AdmitExactlyRpm()
    {
        var limiters = Instances(4);
        var key = "vk_" + Guid.NewGuid().ToString("N");
        EnsureNotAtMinuteEdge();

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Task.Run(() => limiters[i % limiters.Length].TryAcquireAsync(key, 7, null, 10, CancellationToken.None))));

        Assert.That(results.Count(r => r.Allowed), Is.EqualTo(7));
        var refused = results.First(r => !r.Allowed);
        Assert.That(refused.Reason, Is.EqualTo("rpm"));
        Assert.That(refused.RetryAfterSeconds, Is.InRange(1, 60));
    }

    [Test]
    public async Task TokensPerMinute_RefusesOnceTheWindowIsFull_CountingLateTokens()
    {
        var limiter = Instances(1)[0];
        var key = "vk_" + Guid.NewGuid().ToString("N");
        EnsureNotAtMinuteEdge();

        Assert.That((await limiter.TryAcquireAsync(key, null, 1000, 400, CancellationToken.None)).Allowed, Is.True);
        await limiter.AddTokensAsync(key, 500, CancellationToken.None); // output tokens learned after the call
        var second = await limiter.TryAcquireAsync(key, null, 1000, 200, CancellationToken.None);

        Assert.That(second.Allowed, Is.False);
        Assert.That(second.Reason, Is.EqualTo("tpm"));
        Assert.That((await limiter.TryAcquireAsync(key, null, 1000, 100, CancellationToken.None)).Allowed, Is.True, "900 + 100 fits");
    }

    private static void EnsureNotAtMinuteEdge()
    {
        // Fixed windows: a test straddling a minute boundary would see two windows.
        var ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() % 60_000;
        if (ms > 55_000)
        {
            Thread.Sleep((int)(60_000 - ms + 50));
        }
    }
}

/// <summary>Redis going away must not take the gateway down.</summary>
[TestFixture]
public sealed class RedisUnavailableTests
{
    [Test]
    public async Task UnreachableRedis_FallsBackToInstanceWindows()
    {
        using var mux = ConnectionMultiplexer.Connect(RedisKeyRateLimiter.ToConfiguration("127.0.0.1:1,connectTimeout=200,syncTimeout=200"));
        using var limiter = new RedisKeyRateLimiter(mux, TimeProvider.System);
        var ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() % 60_000;
        if (ms > 55_000)
        {
            await Task.Delay((int)(60_000 - ms + 50));
        }

        var first = await limiter.TryAcquireAsync("vk_x", 1, null, 1, CancellationToken.None);
        var second = await limiter.TryAcquireAsync("vk_x", 1, null, 1, CancellationToken.None);

        Assert.That(first.Allowed, Is.True);
        Assert.That(second.Allowed, Is.False, "the limit still holds, per instance");
    }

    [Test]
    public void RedisUrl_IsTranslatedToClientConfiguration()
    {
        Assert.That(RedisKeyRateLimiter.ToConfiguration("redis://:p%40ss@cache:6380/2"), Is.EqualTo("cache:6380,abortConnect=false,password=p@ss,defaultDatabase=2"));
        Assert.That(RedisKeyRateLimiter.ToConfiguration("redis://cache"), Is.EqualTo("cache:6379,abortConnect=false"));
        Assert.That(RedisKeyRateLimiter.ToConfiguration("cache:6379,password=x"), Is.EqualTo("cache:6379,password=x,abortConnect=false"));
    }
}

/// <summary>The global concurrency limit and the admission sequence.</summary>
[TestFixture]
public sealed class GlobalConcurrencyTests
{
    [Test]
    public async Task BeyondConcurrencyAndQueue_IsRefusedWithRetryAfter_AndQueuedOneRunsWhenASlotFrees()
    {
        using var meters = new TestMeterFactory();
        using var metrics = new LlmServerMetrics(meters);
        using var limiter = new GlobalConcurrencyLimiter(Options.Create(new OperationsOptions
        {
            RateLimits = new RateLimitOptions { GlobalConcurrency = 1, GlobalQueue = 1, GlobalRetryAfterSeconds = 2 },
        }), metrics);

        var (first, ok) = await limiter.AcquireAsync(CancellationToken.None);
        var queued = limiter.AcquireAsync(CancellationToken.None).AsTask();
        var (third, refused) = await limiter.AcquireAsync(CancellationToken.None);

        Assert.That(ok.Allowed, Is.True);
        Assert.That(queued.IsCompleted, Is.False, "the second waits in the queue");
        Assert.That(refused.Allowed, Is.False);
        Assert.That(refused.RetryAfterSeconds, Is.EqualTo(2));
        Assert.That(third, Is.Null);
        first!.Dispose();
        var (secondLease, second) = await queued.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(second.Allowed, Is.True);
        secondLease!.Dispose();
    }
}
