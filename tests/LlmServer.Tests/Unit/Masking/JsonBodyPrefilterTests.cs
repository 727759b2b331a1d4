using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Masking;
using static LlmServer.Tests.Unit.Masking.MaskingKit;

namespace LlmServer.Tests.Unit.Masking;

/// <summary>The gateway's first look: "nothing here" must never be said of a body that masking would change.</summary>
public sealed class JsonBodyPrefilterTests
{
    private static bool May(string json) => Service().MayContainSensitiveData(Encoding.UTF8.GetBytes(json));

    [TestCase("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":64}""")]
    [TestCase("""{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"안녕하세요, 오늘 날씨는?"}]}]}""")]
    [TestCase("""{"model":"m","prompt":"Say hello","stream":true,"stream_options":{"include_usage":true}}""")]
    public void CleanBodies_NeedNoFurtherLook(string json) => Assert.That(May(json), Is.False);

    [TestCase("""{"model":"m","messages":[{"role":"user","content":"restart i-1234567890abcdef0 now"}]}""")]
    [TestCase("""{"model":"m","messages":[{"role":"user","content":"key \u0041KIAIOSFODNN7EXAMPLE"}]}""")]
    [TestCase("""{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"id":"i-1234567890abcdef0"}}]}]}""")]
    [TestCase("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{\"vpc\":\"vpc-0a1b2c3d4e5f67890\"}"}}]}]}""")]
    [TestCase("""{"model":"m","instructions":"연락처 010-1234-5678","input":"hi"}""")]
    [TestCase("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","description":"uses AKIAIOSFODNN7EXAMPLE"}}]}""")]
    [TestCase("""{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{"p":{"type":"string","description":"RRN 900101-1234567"}}}}]}""")]
    [TestCase("""{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":{"type":"object","description":"call 010-1234-5678"}}]}""")]
    [TestCase("""{"model":"m","messages":[{"role":"user","name":"sk-proj-AbCdEf1234567890GhIjKlMnOpQrStUv","content":"hi"}]}""")]
    [TestCase("""{"model":"m","messages":{"role":"i-1234567890abcdef0"}}""")]
    [TestCase("""{"model":"m","messages":[{"role":"user","content":"x"}""")]
    [TestCase("""["i-1234567890abcdef0"]""")]
    public void BodiesWithSomethingToMask_OrUnreadable_GoToTheFullPath(string json) => Assert.That(May(json), Is.True);

    [Test]
    public async Task WheneverThePrefilterSaysNothing_MaskingTheBodyChangesNothing()
    {
        // NOTE: the two skipped positions hold a value the scanner would find; the full path must leave them alone too.
        string[] bodies =
        [
            """{"model":"i-1234567890abcdef0","messages":[{"role":"user","content":"hello"}]}""",
            """{"model":"m","messages":[{"role":"AKIAIOSFODNN7EXAMPLE","content":"hello"}]}""",
            """{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"plain words"}]}],"tools":[{"type":"function","function":{"name":"f"}}]}""",
            """{"model":"m","messages":[{"role":"user","name":"kim","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","description":"Finds an order","parameters":{"type":"object","title":"Order","properties":{"description":{"type":"string","description":"what was bought","enum":["a","b"]}}}}}]}""",
            """{"model":"m","input":"hi","instructions":"be brief","tools":[{"type":"function","name":"f","description":"plain","parameters":{"type":"object","$defs":{"x":{"description":"plain too"}}}}],"text":{"format":{"type":"json_schema","name":"o","description":"d","schema":{"type":"object"}}}}""",
            """{"model":"m","max_tokens":5,"system":[{"type":"text","text":"be brief"}],"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","description":"plain","input_schema":{"type":"object","properties":{"q":{"type":"string","description":"query"}}}}]}""",
        ];
        foreach (var json in bodies)
        {
            Assert.That(May(json), Is.False, json);
            var node = JsonNode.Parse(json)!;
            var counts = await Session().MaskJsonBodyAsync(node);
            Assert.That(counts, Is.Empty, json);
            Assert.That(node.ToJsonString(), Is.EqualTo(JsonNode.Parse(json)!.ToJsonString()), json);
        }
    }
}
