using LlmServer.External.Upstreams;
using LlmServer.Services.Routing;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace LlmServer.Tests.Unit.Gateway;

/// <summary>A deployment's breaker: when it opens, how long it stays open, and how one trial call closes or reopens it.</summary>
public sealed class CircuitBreakerTests
{
    private static readonly CircuitBreakerOptions s_options = new() { FailureRatio = 0.5, MinimumThroughput = 4, SamplingSeconds = 10, BreakSeconds = 30 };
    private FakeTimeProvider _time = null!;
    private CircuitBreaker _breaker = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 30, 12, 0, 0, TimeSpan.Zero));
        _breaker = new CircuitBreaker(s_options, _time);
    }

    private void Call(bool failed)
    {
        Assert.That(_breaker.TryEnter(), Is.True, "the call is let through");
        _breaker.Exit(failed);
    }

    [Test]
    public void FailuresBelowTheMinimumThroughput_KeepItClosed()
    {
        Call(failed: true);
        Call(failed: true);
        Call(failed: true);

        Assert.That(_breaker.State, Is.EqualTo(CircuitState.Closed));
    }

    [Test]
    public void FailureRatioReachedWithEnoughCalls_OpensIt_AndRefusesCalls()
    {
        Call(failed: false);
        Call(failed: true);
        Call(failed: false);
        Call(failed: true);

        Assert.That(_breaker.State, Is.EqualTo(CircuitState.Open));
        Assert.That(_breaker.TryEnter(), Is.False);
    }

    [Test]
    public void SuccessesOutnumberingFailures_KeepItClosed()
    {
        for (var i = 0; i < 6; i++) Call(failed: false);
        Call(failed: true);
        Call(failed: true);

        Assert.That(_breaker.State, Is.EqualTo(CircuitState.Closed));
    }

    [Test]
    public void FailuresOutsideTheSamplingWindow_AreForgotten()
    {
        Call(failed: true);
        Call(failed: true);
        Call(failed: true);
        _time.Advance(TimeSpan.FromSeconds(11));
        Call(failed: true);

        Assert.That(_breaker.State, Is.EqualTo(CircuitState.Closed));
    }

    [Test]
    public void AfterTheBreak_OneTrialCallGoesThrough_AndItsSuccessClosesIt()
    {
        for (var i = 0; i < 4; i++) Call(failed: true);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.That(_breaker.TryEnter(), Is.False, "still within the break");
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.That(_breaker.State, Is.EqualTo(CircuitState.HalfOpen));
        Assert.That(_breaker.TryEnter(), Is.True, "the trial call");
        Assert.That(_breaker.TryEnter(), Is.False, "only one trial at a time");
        _breaker.Exit(failed: false);

        Assert.That(_breaker.State, Is.EqualTo(CircuitState.Closed));
        Assert.That(_breaker.TryEnter(), Is.True);
    }

    [Test]
    public void AFailedTrialCall_OpensItForAnotherBreak()
    {
        for (var i = 0; i < 4; i++) Call(failed: true);
        _time.Advance(TimeSpan.FromSeconds(30));
        Call(failed: true);

        Assert.That(_breaker.State, Is.EqualTo(CircuitState.Open));
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.That(_breaker.TryEnter(), Is.False);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(_breaker.TryEnter(), Is.True);
    }
}
