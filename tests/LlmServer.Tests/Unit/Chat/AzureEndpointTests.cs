using LlmServer.Services.Chat;

namespace LlmServer.Tests.Unit.Chat;

/// <summary>The endpoint as users paste it from the Azure portal becomes the API root of the chosen style.</summary>
[TestFixture]
public sealed class AzureEndpointTests
{
    [TestCase("https://res.openai.azure.com", "v1", "https://res.openai.azure.com/openai/v1")]
    [TestCase("https://res.openai.azure.com/", "v1", "https://res.openai.azure.com/openai/v1")]
    [TestCase("https://res.openai.azure.com/openai/v1/", "v1", "https://res.openai.azure.com/openai/v1")]
    [TestCase("https://res.openai.azure.com/openai", "v1", "https://res.openai.azure.com/openai/v1")]
    [TestCase("https://res.openai.azure.com", "2024-10-21", "https://res.openai.azure.com/openai")]
    [TestCase("https://res.openai.azure.com/openai/v1", "2025-04-01-preview", "https://res.openai.azure.com/openai")]
    [TestCase("https://apim.example.com/team-a/aoai", "v1", "https://apim.example.com/team-a/aoai")]
    public void PastedEndpoint_BecomesTheApiRootOfTheStyle(string endpoint, string apiVersion, string expected) =>
        Assert.That(AzureOpenAiOptions.ApiBase(endpoint, apiVersion), Is.EqualTo(expected));

    [TestCase("gpt-4o-mini", "mini-deployment")]
    [TestCase("gpt-4o", "default-deployment")]
    public void Model_IsServedByItsMappedDeployment_ElseTheDefaultOne(string model, string deployment)
    {
        var options = new AzureOpenAiOptions { Deployment = "default-deployment" };
        options.Deployments["gpt-4o-mini"] = "mini-deployment";

        Assert.That(options.DeploymentFor(model), Is.EqualTo(deployment));
    }
}
