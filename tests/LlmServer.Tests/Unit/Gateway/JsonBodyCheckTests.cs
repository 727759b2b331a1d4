using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Dto;

namespace LlmServer.Tests.Unit.Gateway;

/// <summary>The body checks and the JSON tree accept exactly the same nesting and refuse the same duplicates.</summary>
[TestFixture]
public sealed class JsonBodyCheckTests
{
    private static byte[] Nested(int levels) =>
        Encoding.UTF8.GetBytes("{\"x\":" + new string('[', levels - 1) + new string(']', levels - 1) + "}");

    [TestCase(JsonLimits.MaxDepth, true)]
    [TestCase(JsonLimits.MaxDepth + 1, false)]
    public void CheckAndJsonTree_AgreeOnTheDepthLimit(int levels, bool accepted)
    {
        var body = Nested(levels);
        var treeAccepts = true;
        try
        {
            JsonNode.Parse(body, documentOptions: JsonLimits.Document)!.ToJsonString();
        }
        catch (JsonException)
        {
            treeAccepts = false;
        }
        Assert.That(JsonBodyCheck.Validate(body) is null, Is.EqualTo(accepted), "the body check");
        Assert.That(treeAccepts, Is.EqualTo(accepted), "the JSON tree");
    }

    [Test]
    public void DuplicateKeyInALargeObject_IsFound()
    {
        var members = string.Join(",", Enumerable.Range(0, 5000).Select(i => $"\"k{i}\":{i}"));
        var problem = JsonBodyCheck.Validate(Encoding.UTF8.GetBytes("{\"o\":{" + members + ",\"k4321\":0}}"));
        Assert.That(problem?.Message, Does.Contain("'k4321'"));
        Assert.That(problem?.Field, Is.EqualTo("o"));
    }

    [TestCase("\"\\ud83d\\ude00\"", false)]
    [TestCase("\"\\ud83d\"", true)]
    [TestCase("\"\\ude00\\ud83d\"", true)]
    [TestCase("\"a\\\\ud800\"", false)]
    public void LoneSurrogateEscapes_AreFound_PairsAndEscapedBackslashesAreNot(string value, bool refused)
    {
        var problem = JsonBodyCheck.Validate(Encoding.UTF8.GetBytes("{\"t\":" + value + "}"));
        Assert.That(problem is not null, Is.EqualTo(refused), problem?.Message);
    }
}
