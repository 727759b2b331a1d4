using LlmServer.Dto.Chat;
using LlmServer.Services.Exchange;

namespace LlmServer.Tests.Unit.Chat;

/// <summary>The session chat body's session_id follows the same rule as every API's conversation id.</summary>
[TestFixture]
public sealed class SessionIdRuleTests
{
    [TestCase("a")]
    [TestCase("plain-id_1.2:3")]
    [TestCase("with space")]
    [TestCase("탭")]
    [TestCase("tab\there")]
    public void BodyRule_AgreesWithTheExchangeCore(string value) =>
        Assert.That(ChatRequestValidator.IsValidSessionId(value), Is.EqualTo(ExchangeSteps.IsValidSessionId(value)));

    [TestCase(128, true)]
    [TestCase(129, false)]
    public void BodyRule_AgreesWithTheExchangeCore_OnLength(int length, bool valid)
    {
        var id = new string('z', length);

        Assert.That((ChatRequestValidator.IsValidSessionId(id), ExchangeSteps.IsValidSessionId(id)), Is.EqualTo((valid, valid)));
    }
}
