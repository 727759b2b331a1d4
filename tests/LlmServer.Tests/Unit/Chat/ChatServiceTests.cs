using LlmServer.Services.Ownership;
using LlmServer.Dto.Chat;
using LlmServer.Services.Accounting;
using LlmServer.Services.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Tests.Unit.Masking;
using LlmServer.Services.Pricing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace LlmServer.Tests.Unit.Chat;

[TestFixture]
public sealed class ChatServiceTests
{
    private IResponsesUpstream _upstream = null!;
    private IChatHistoryStore _store = null!;
    private IUsageSink _usage = null!;
    private ChatService _service = null!;

    [SetUp]
    public void SetUp()
    {
        _upstream = Substitute.For<IResponsesUpstream>();
        _upstream.HasServerKey.Returns(true);
        _upstream.CreateAsync(Arg.Any<UpstreamRequest>(), Arg.Any<CancellationToken>())
            .Returns(ci => Result(ci.Arg<UpstreamRequest>().Model));
        _store = Substitute.For<IChatHistoryStore>();
        _store.GetAsync(default!, default!, default, default).ReturnsForAnyArgs(Task.FromResult<IReadOnlyList<ChatTurn>>([]));
        _usage = Substitute.For<IUsageSink>();
        var pricing = new PricingOptions { Models = { ["gpt-4o-mini"] = new ModelPrice { Input = 0.15m, CachedInput = 0.075m, Output = 0.60m } } };
        var costs = new CostCalculator(Monitor(pricing));
        var admission = Substitute.For<IRequestAdmission>();
        admission.AdmitAsync(default, default!, default, default, default)
            .ReturnsForAnyArgs(Task.FromResult(new Admission(AdmissionOutcome.Admitted, null, 0, null)));
        var steps = new ExchangeSteps(admission, MaskingKit.Service(new MaskingOptions { Policy = MaskingPolicy.Off }), _usage, costs,
            TimeProvider.System, NullLogger<ExchangeSteps>.Instance);
        _service = new ChatService(_upstream, _store, costs, steps, Monitor(new ChatOptions()), TimeProvider.System, NullLogger<ChatService>.Instance);
    }

    private static IOptionsMonitor<T> Monitor<T>(T value)
    {
        var m = Substitute.For<IOptionsMonitor<T>>();
        m.CurrentValue.Returns(value);
        return m;
    }

    private static UpstreamResult Result(string model, string text = "answer") => new()
    {
        Id = "resp_1", Status = "completed", OutputText = text, Model = model,
        Usage = new TokenUsage(1_000_000, 0, 1_000_000), CreatedAt = DateTimeOffset.UtcNow,
    };

    [Test]
    public async Task ServerKey_CostIsAccountedToServer()
    {
        var response = await _service.ChatAsync(new ChatRequest { UserPrompt = "q" }, "ko", CancellationToken.None);

        Assert.That(response.CostUsd, Is.EqualTo(0.75m));
        Assert.That(response.ApiKeySource, Is.EqualTo("server"));
        _usage.Received(1).Record(Arg.Is<UsageRecord>(r => r.CostUsd == 0.75m && r.ApiKeySource == "server" && r.Route == "api_chat"));
    }

    [Test]
    public async Task UserKey_CostIsShownButNotAccountedToServer()
    {
        var response = await _service.ChatAsync(new ChatRequest { UserPrompt = "q", UseUserApiKey = true, OpenAiApiKey = "sk-user" }, "ko", CancellationToken.None);

        Assert.That(response.CostUsd, Is.EqualTo(0.75m));
        Assert.That(response.ApiKeySource, Is.EqualTo("user"));
        _usage.Received(1).Record(Arg.Is<UsageRecord>(r => r.CostUsd == null && r.ApiKeySource == "user"));
        await _upstream.Received(1).CreateAsync(Arg.Is<UpstreamRequest>(r => r.UserApiKey == "sk-user"), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task UnknownPrice_CostIsNullWithWarning()
    {
        var response = await _service.ChatAsync(new ChatRequest { UserPrompt = "q", Model = "mystery-model" }, "ko", CancellationToken.None);

        Assert.That(response.CostUsd, Is.Null);
        Assert.That(response.CostWarning, Does.Contain("mystery-model"));
    }

    [Test]
    public async Task WithSession_TurnIsStoredAfterTheAnswer()
    {
        await _service.ChatAsync(new ChatRequest { UserPrompt = "q", SessionId = "s" }, "ko", CancellationToken.None);

        await _store.Received(1).AppendAsync(Owners.Operator, "s",
            Arg.Is<IReadOnlyList<ChatTurn>>(t => t.Count == 2 && t[0].Role == "user" && t[0].Content == "q" && t[1].Role == "assistant" && t[1].Content == "answer"),
            Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task Defaults_ComeFromOptions()
    {
        await _service.ChatAsync(new ChatRequest { UserPrompt = "q" }, "ko", CancellationToken.None);

        await _upstream.Received(1).CreateAsync(
            Arg.Is<UpstreamRequest>(r => r.Model == "gpt-4o-mini" && r.MaxOutputTokens == 1000 && Math.Abs(r.Temperature - 0.7) < 1e-9),
            Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task Stream_FailingMidway_StoresNothing()
    {
        _upstream.StreamAsync(Arg.Any<UpstreamRequest>(), Arg.Any<CancellationToken>()).Returns(FailingStream());

        await Assert.ThatAsync(async () =>
        {
            await foreach (var _ in _service.StreamAsync(new ChatRequest { UserPrompt = "q", SessionId = "s" }, "ko", CancellationToken.None))
            {
            }
        }, Throws.InstanceOf<LlmServerException>());
        await _store.DidNotReceiveWithAnyArgs().AppendAsync(default!, default!, default!, default);
    }

    private static async IAsyncEnumerable<UpstreamStreamEvent> FailingStream()
    {
        yield return new UpstreamStreamEvent("par", null);
        await Task.Yield();
        throw LlmServerException.From(ExchangeErrors.UpstreamDisconnected);
    }
}
