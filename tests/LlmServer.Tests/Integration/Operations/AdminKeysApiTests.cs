using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Keys;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>/api/v1/admin/keys through the real server (SQLite in a temp data dir).</summary>
[TestFixture]
public sealed class AdminKeysApiTests
{
    private const string Master = "master-secret-for-tests";
    private LlmServerApp _app = null!;
    private HttpClient _admin = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:Auth:MasterKey"] = Master });
        _admin = _app.CreateClient();
        _admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Master);
    }

    [OneTimeTearDown]
    public void Stop()
    {
        _admin.Dispose();
        _app.Dispose();
    }

    [Test]
    public async Task CreateListUpdateRevoke_KeyShownOnceStoredAsHashAndAuthenticatesUntilRevoked()
    {
        var create = await _admin.PostAsJsonAsync("/api/v1/admin/keys", new
        {
            name = "team-a",
            allowed_models = new[] { "gpt-4o-mini" },
            budget = new { total_usd = 10, daily_usd = 1.5 },
            rpm = 60,
            tpm = 100000,
            masking_policy = "mask",
            metadata = new Dictionary<string, string> { ["owner"] = "kim" },
        });
        Assert.That(create.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        var created = JsonNode.Parse(await create.Content.ReadAsStringAsync())!;
        var key = (string)created["data"]!["key"]!;
        var id = (string)created["data"]!["info"]!["id"]!;
        Assert.That(key, Does.Match("^sk-llms-[0-9A-Za-z]{32}$"));
        Assert.That((decimal)created["data"]!["info"]!["budget"]!["daily_usd"]!, Is.EqualTo(1.5m));

        var listText = await _admin.GetStringAsync("/api/v1/admin/keys");
        Assert.That(listText, Does.Not.Contain(key), "the list shows only a prefix");
        Assert.That(listText, Does.Not.Contain(VirtualKeyService.Hash(key)), "nor the hash");
        var listed = JsonNode.Parse(listText)!["data"]!.AsArray().Single(k => (string)k!["id"]! == id)!;
        Assert.That(key, Does.StartWith((string)listed["key_prefix"]!));
        Assert.That((string)listed["metadata"]!["owner"]!, Is.EqualTo("kim"));

        var keys = _app.Services.GetRequiredService<IVirtualKeyService>();
        var authenticated = await keys.AuthenticateAsync(key);
        Assert.That(authenticated?.Id, Is.EqualTo(id));
        Assert.That(authenticated!.AllowsModel("gpt-4o-mini"), Is.True);
        Assert.That(authenticated.AllowsModel("gpt-4o"), Is.False);
        Assert.That(await keys.AuthenticateAsync(key[..^1] + (key[^1] == 'a' ? 'b' : 'a')), Is.Null);

        var update = await _admin.PatchAsJsonAsync($"/api/v1/admin/keys/{id}", new { rpm = 5, allowed_models = Array.Empty<string>() });
        Assert.That(update.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var updated = JsonNode.Parse(await update.Content.ReadAsStringAsync())!["data"]!;
        Assert.That((int)updated["rpm"]!, Is.EqualTo(5));
        Assert.That((long)updated["tpm"]!, Is.EqualTo(100000), "fields not sent are kept");
        Assert.That(updated["allowed_models"]!.AsArray(), Is.Empty);
        Assert.That(updated["spend"]!.AsArray().Select(s => (string)s!["period"]!), Does.Contain("total"));

        var revoke = await _admin.DeleteAsync($"/api/v1/admin/keys/{id}");
        Assert.That(revoke.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await keys.AuthenticateAsync(key), Is.Null, "a revoked key stops working");
        var active = await _admin.GetStringAsync("/api/v1/admin/keys");
        Assert.That(active, Does.Not.Contain(id));
        var all = await _admin.GetStringAsync("/api/v1/admin/keys?include_revoked=true");
        Assert.That(all, Does.Contain(id));
    }

    [Test]
    public async Task VirtualKey_IsValidForTheApisButNotForAdminOrUsage_403()
    {
        var create = await _admin.PostAsJsonAsync("/api/v1/admin/keys", new { name = "not-an-admin" });
        var key = (string)JsonNode.Parse(await create.Content.ReadAsStringAsync())!["data"]!["key"]!;
        using var client = _app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var admin = await client.GetAsync("/api/v1/admin/keys");
        var usage = await client.GetAsync("/api/v1/usage");
        var system = await client.GetAsync("/api/v1/system/info");

        Assert.That(admin.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((string)JsonNode.Parse(await admin.Content.ReadAsStringAsync())!["error"]!["code"]!, Is.EqualTo("master_key_required"));
        Assert.That(usage.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(system.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the key itself is accepted by the auth middleware");
    }

    [Test]
    public async Task WithoutMasterKey_Returns401InSessionApiShape()
    {
        using var client = _app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");

        var response = await client.GetAsync("/api/v1/admin/keys");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((bool)body["success"]!, Is.False);
        Assert.That((string)body["error"]!["code"]!, Is.EqualTo("invalid_api_key"));
        Assert.That(body["trace_id"], Is.Not.Null);
        Assert.That(body.ToJsonString(), Does.Not.Contain(Master));
    }

    [Test]
    public async Task InvalidBudget_Returns400()
    {
        var response = await _admin.PostAsJsonAsync("/api/v1/admin/keys", new { budget = new { monthly_usd = -1 } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string)body["error"]!["message"]!, Does.Contain("budget"));
    }

    [TestCase("""{"rpm":-5}""", "rpm and tpm must not be negative.")]
    [TestCase("""{"allowed_models":["gpt-4o"," "]}""", "allowed_models must not contain empty names.")]
    [TestCase("""{"budget":{"daily_usd":2000000000}}""", "budget amounts must be between 0 and 1e9 USD.")]
    [TestCase("""{"rpm":-5,"budget":{"total_usd":-1}}""", "budget amounts must be between 0 and 1e9 USD.")]
    public async Task InvalidKeyRequest_Returns400WithTheFirstProblemInSessionShape(string json, string message)
    {
        var response = await _admin.PostAsync("/api/v1/admin/keys", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((bool)body["success"]!, Is.False);
        Assert.That((string)body["error"]!["code"]!, Is.EqualTo("invalid_request"));
        Assert.That((string)body["error"]!["message"]!, Is.EqualTo(message));
        Assert.That(body["trace_id"], Is.Not.Null);
    }

    [Test]
    public async Task InvalidKeyUpdate_Returns400_AndLeavesTheKeyAsItWas()
    {
        var created = JsonNode.Parse(await (await _admin.PostAsJsonAsync("/api/v1/admin/keys", new { name = "steady", rpm = 10 })).Content.ReadAsStringAsync())!;
        var id = (string)created["data"]!["info"]!["id"]!;

        var response = await _admin.PatchAsync($"/api/v1/admin/keys/{id}",
            new StringContent("""{"name":"renamed","tpm":-1}""", System.Text.Encoding.UTF8, "application/json"));
        var after = JsonNode.Parse(await _admin.GetStringAsync($"/api/v1/admin/keys/{id}"))!;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((string)after["data"]!["name"]!, Is.EqualTo("steady"));
        Assert.That((int)after["data"]!["rpm"]!, Is.EqualTo(10));
    }

    [Test]
    public async Task UnknownKey_Returns404()
    {
        var response = await _admin.GetAsync("/api/v1/admin/keys/vk_nope");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!, Is.EqualTo("key_not_found"));
    }

    [Test]
    public async Task AdminApi_WhenNoMasterKeyIsConfigured_Returns403()
    {
        using var app = new LlmServerApp();
        using var client = app.CreateClient();

        var response = await client.GetAsync("/api/v1/admin/keys");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("LLMSERVER_MASTER_KEY"));
    }
}
