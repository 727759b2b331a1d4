using LlmServer.External.Operations;
using LlmServer.External.Redis;
using LlmServer.Services.Limits;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using LlmServer.Tests.Infrastructure;
using StackExchange.Redis;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>Per-key rpm/tpm windows: local, Redis (LLMSERVER_TEST_REDIS) and PostgreSQL, several instances sharing one.</summary>
[TestFixture("local")]
[TestFixture("redis")]
[TestFixture("postgres")]
public sealed class RateLimitTests(string backend)
{
    // NOTE: mid-minute, so a test never straddles two fixed windows; the windows follow this clock, not the wall.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 2, 10, 15, 20, TimeSpan.Zero));
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
                var one = new LocalKeyRateLimiter(_time);
                return Enumerable.Repeat<IKeyRateLimiter>(one, count).ToArray();
            case "redis":
                var endpoint = TestRedis.RequireEndpoint();
                return Enumerable.Range(0, count).Select(_ =>
                {
                    var mux = ConnectionMultiplexer.Connect(RedisConnection.Parse("redis://" + endpoint));
                    _disposables2.Add(mux);
                    return (IKeyRateLimiter)new RedisKeyRateLimiter(mux, _time);
                }).ToArray();
            default:
                var dbs = OpsTestDatabases.Open(OpsTestDatabases.Postgres, count, Path.GetTempPath());
                _disposables.AddRange(dbs);
                return dbs.Select(db => (IKeyRateLimiter)new SqlKeyRateLimiter(db, _time)).ToArray();
        }
    }

    [Test]
    public async Task ConcurrentRequestsOverInstances_AdmitExactlyRpm()
    {
        var limiters = Instances(4);
        var key = "vk_" + Guid.NewGuid().ToString("N");

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

        Assert.That((await limiter.TryAcquireAsync(key, null, 1000, 400, CancellationToken.None)).Allowed, Is.True);
        await limiter.AddTokensAsync(key, 500, CancellationToken.None); // output tokens learned after the call
        var second = await limiter.TryAcquireAsync(key, null, 1000, 200, CancellationToken.None);

        Assert.That(second.Allowed, Is.False);
        Assert.That(second.Reason, Is.EqualTo("tpm"));
        Assert.That((await limiter.TryAcquireAsync(key, null, 1000, 100, CancellationToken.None)).Allowed, Is.True, "900 + 100 fits");
    }

    [Test]
    public async Task NextMinute_OpensAFreshWindow()
    {
        var limiter = Instances(1)[0];
        var key = "vk_" + Guid.NewGuid().ToString("N");
        Assert.That((await limiter.TryAcquireAsync(key, 1, null, 1, CancellationToken.None)).Allowed, Is.True);
        var refused = await limiter.TryAcquireAsync(key, 1, null, 1, CancellationToken.None);

        _time.Advance(TimeSpan.FromSeconds(refused.RetryAfterSeconds));

        Assert.That(refused.RetryAfterSeconds, Is.EqualTo(40), "the window ends at the minute");
        Assert.That((await limiter.TryAcquireAsync(key, 1, null, 1, CancellationToken.None)).Allowed, Is.True);
    }
}

/// <summary>Redis going away must not take the gateway down.</summary>
[TestFixture]
public sealed class RedisUnavailableTests
{
    [Test]
    public async Task UnreachableRedis_FallsBackToInstanceWindows()
    {
        using var mux = ConnectionMultiplexer.Connect(RedisConnection.Parse("127.0.0.1:1,connectTimeout=200,syncTimeout=200"));
        var limiter = new RedisKeyRateLimiter(mux, new FakeTimeProvider(new DateTimeOffset(2026, 3, 2, 10, 15, 20, TimeSpan.Zero)));

        var first = await limiter.TryAcquireAsync("vk_x", 1, null, 1, CancellationToken.None);
        var second = await limiter.TryAcquireAsync("vk_x", 1, null, 1, CancellationToken.None);

        Assert.That(first.Allowed, Is.True);
        Assert.That(second.Allowed, Is.False, "the limit still holds, per instance");
    }

    [Test]
    public void RedisUrl_IsTranslatedToClientConfiguration()
    {
        var url = RedisConnection.Parse("redis://:p%40ss@cache:6380/2");
        Assert.That(url.EndPoints.Single(), Is.EqualTo(new System.Net.DnsEndPoint("cache", 6380)));
        Assert.That(url.Password, Is.EqualTo("p@ss"));
        Assert.That(url.DefaultDatabase, Is.EqualTo(2));
        Assert.That(url.AbortOnConnectFail, Is.False, "a Redis down at start must not stop the server");
        Assert.That(url.Ssl, Is.False);

        var acl = RedisConnection.Parse("rediss://svc:s3cr%3At@cache");
        Assert.That(acl.EndPoints.Single(), Is.EqualTo(new System.Net.DnsEndPoint("cache", 6379)));
        Assert.That((acl.User, acl.Password, acl.Ssl), Is.EqualTo(("svc", "s3cr:t", true)));

        var own = RedisConnection.Parse("cache:6379,password=x");
        Assert.That((own.Password, own.AbortOnConnectFail), Is.EqualTo(("x", false)));
        Assert.That(RedisConnection.Parse("cache:6379,abortConnect=true").AbortOnConnectFail, Is.True);
    }
}
