using System.Collections.Concurrent;
using System.Text;
using LlmServer.FakeUpstream;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>The transport's retry waits on the server's clock, here a fake one the test moves.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayRetryClockTests
{
    private RecordingTimeProvider _clock = null!;
    private GatewayHost _host = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _clock = new RecordingTimeProvider();
        _host = await GatewayHost.StartAsync(services: s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(_clock)));
    }

    [TearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [Test]
    public async Task Upstream429WithRetryAfter_RetriesOnlyOnceThatTimeHasPassed_ThenSucceeds()
    {
        _host.Fake.EnqueueFault(Fault.Http(429, retryAfter: "2"));
        using var http = _host.Client();

        var call = http.PostAsync("v1/chat/completions", new StringContent(
            """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"one two three four"}]}""", Encoding.UTF8, "application/json"));
        var waiting = await _clock.WaitForTimerAsync(TimeSpan.FromSeconds(2));
        var attemptsWhileWaiting = _host.Fake.Requests.Count;
        _clock.Advance(TimeSpan.FromSeconds(2));
        // NOTE: another component may have a 2 s timer too; keep the clock moving until the retry has fired.
        for (var i = 0; i < 50 && !call.IsCompleted; i++)
        {
            await Task.WhenAny(call, Task.Delay(200));
            if (!call.IsCompleted) _clock.Advance(TimeSpan.FromSeconds(1));
        }
        using var response = await call;

        Assert.That(waiting, Is.True, "the retry waits the 2 s the upstream asked for (not its own backoff)");
        Assert.That(attemptsWhileWaiting, Is.EqualTo(1), "no second attempt before the time passed");
        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(2));
    }

    /// <summary>A fake clock that also tells which delays the server is waiting for.</summary>
    private sealed class RecordingTimeProvider() : FakeTimeProvider(DateTimeOffset.UtcNow)
    {
        private readonly ConcurrentQueue<TimeSpan> _dueTimes = new();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _dueTimes.Enqueue(dueTime);
            return base.CreateTimer(callback, state, dueTime, period);
        }

        // NOTE: the request runs on other threads; this only waits for it to reach the delay, the clock stays put.
        public async Task<bool> WaitForTimerAsync(TimeSpan dueTime)
        {
            for (var i = 0; i < 3000; i++)
            {
                if (_dueTimes.Contains(dueTime)) return true;
                await Task.Delay(10);
            }
            return false;
        }
    }
}
