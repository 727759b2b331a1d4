using System.Net;
using System.Text;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Azure;

/// <summary>Azure OpenAI configured the way users do it: AZURE_OPENAI_* env vars, and bad settings fail the start.</summary>
[TestFixture]
[NonParallelizable]
public sealed class AzureConfigurationTests
{
    private static readonly string[] s_env = ["AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_VERSION"];

    [TearDown]
    public void ClearEnvironment()
    {
        foreach (var name in s_env) Environment.SetEnvironmentVariable(name, null);
    }

    [Test]
    public async Task EnvShortcuts_PointTheSessionChatApiAndTheGatewayAtTheAzureDeployment()
    {
        await using var fake = await FakeUpstreamServer.StartAsync();
        fake.ValidKeys.Add("env-azure-key");
        Environment.SetEnvironmentVariable("AZURE_OPENAI_ENDPOINT", fake.BaseUrl + "/");
        Environment.SetEnvironmentVariable("AZURE_OPENAI_API_KEY", "env-azure-key");
        Environment.SetEnvironmentVariable("AZURE_OPENAI_DEPLOYMENT", "prod-4o");
        Environment.SetEnvironmentVariable("AZURE_OPENAI_API_VERSION", "2025-04-01-preview");
        await using var app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:OpenAi:ApiKey"] = "" });
        using var client = app.CreateClient();

        var chat = await PostAsync(client, "/api/v1/chat", """{"user_prompt":"from env"}""");
        var chatCall = fake.LastRequest;
        var gateway = await client.PostAsync("/v1/chat/completions",
            new StringContent("""{"model":"prod-4o","messages":[{"role":"user","content":"via gateway"}]}""", Encoding.UTF8, "application/json"));
        var gatewayCall = fake.LastRequest;

        Assert.That(chat.StatusCode, Is.EqualTo(HttpStatusCode.OK), await chat.Content.ReadAsStringAsync());
        Assert.That((string?)(await BodyAsync(chat))["output_text"], Is.EqualTo("Echo: from env"));
        Assert.That(chatCall.Path, Is.EqualTo("/openai/responses?api-version=2025-04-01-preview"));
        Assert.That((string?)chatCall.Json!["model"], Is.EqualTo("prod-4o"));
        Assert.That(gateway.StatusCode, Is.EqualTo(HttpStatusCode.OK), await gateway.Content.ReadAsStringAsync());
        Assert.That(await gateway.Content.ReadAsStringAsync(), Does.Contain("Echo: via gateway"));
        Assert.That(gatewayCall.Path, Is.EqualTo("/openai/deployments/prod-4o/chat/completions?api-version=2025-04-01-preview"));
        Assert.That(gatewayCall.Headers["api-key"], Is.EqualTo("env-azure-key"));
    }

    [TestCase("LlmServer:AzureOpenAi:ApiKey", "", "LlmServer:AzureOpenAi:ApiKey (AZURE_OPENAI_API_KEY)")]
    [TestCase("LlmServer:AzureOpenAi:Endpoint", "myresource.openai.azure.com", "LlmServer:AzureOpenAi:Endpoint (AZURE_OPENAI_ENDPOINT)")]
    [TestCase("LlmServer:AzureOpenAi:ApiVersion", "latest", "LlmServer:AzureOpenAi:ApiVersion (AZURE_OPENAI_API_VERSION)")]
    public void BadAzureSetting_FailsTheStartNamingIt(string key, string value, string named)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LlmServer:AzureOpenAi:Endpoint"] = "https://myresource.openai.azure.com",
            ["LlmServer:AzureOpenAi:ApiKey"] = "some-key",
            [key] = value,
        };
        using var app = new LlmServerApp(settings);

        var ex = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        Assert.That(ex!.Message, Does.Contain(named));
    }

    [Test]
    public void GatewayAzureUpstreamWithBadApiVersion_FailsTheStartNamingIt()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Gateway:Upstreams:0:Name"] = "az",
            ["LlmServer:Gateway:Upstreams:0:Kind"] = "azure_openai",
            ["LlmServer:Gateway:Upstreams:0:BaseUrl"] = "https://myresource.openai.azure.com",
            ["LlmServer:Gateway:Upstreams:0:ApiVersion"] = "2024/10/21",
        });

        var ex = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        Assert.That(ex!.Message, Does.Contain("LlmServer:Gateway:Upstreams:0:ApiVersion"));
    }
}
