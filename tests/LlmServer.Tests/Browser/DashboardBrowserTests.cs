using System.Net.Http.Headers;
using System.Net.Http.Json;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using Microsoft.Playwright;

namespace LlmServer.Tests.Browser;

/// <summary>
/// The status dashboard in a real headless Chromium (Debian package, driven by Playwright): it asks for the
/// master key, then draws its charts with data from the running server, and a screenshot is saved.
/// </summary>
[TestFixture]
[Category("Browser")]
public sealed class DashboardBrowserTests
{
    private const string MasterKey = "mk-dashboard-test";
    private FakeUpstreamServer _fake = null!;
    private LlmServerApp _app = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("LLMSERVER_TEST_CHROMIUM")))
        {
            Assert.Ignore("LLMSERVER_TEST_CHROMIUM is not set: run through scripts/test.sh, which installs Debian's chromium.");
        }
        _fake = await FakeUpstreamServer.StartAsync();
        _app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:OpenAi:BaseUrl"] = _fake.V1Url,
            ["LlmServer:OpenAi:ApiKey"] = "sk-server-dashboard",
            ["LlmServer:Auth:MasterKey"] = MasterKey,
            ["LlmServer:Operations:Ledger:FlushIntervalMs"] = "100",
        });
        _app.UseKestrel(0);
        _app.StartServer();
        _http = _app.CreateClient();
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", MasterKey);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http?.Dispose();
        if (_app is not null) await _app.DisposeAsync();
        if (_fake is not null) await _fake.DisposeAsync();
    }

    private async Task ChatAsync(string model, int n)
    {
        for (var i = 0; i < n; i++)
        {
            using var response = await _http.PostAsJsonAsync("/api/v1/chat", new { user_prompt = $"대시보드 테스트 {i}", model });
            Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
        }
    }

    [Test]
    public async Task Dashboard_AfterMasterKey_RendersChartsWithData_AndSavesScreenshot()
    {
        await ChatAsync("gpt-4o-mini", 4);
        await ChatAsync("gpt-4o", 2);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("LLMSERVER_TEST_CHROMIUM"),
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1300 } });
        var consoleErrors = new List<string>();
        // NOTE: the 401s before the key is given are the protection working; script errors are what counts.
        page.Console += (_, m) => { if (m.Type == "error" && !m.Text.Contains("status of 401")) consoleErrors.Add(m.Text); };
        page.PageError += (_, e) => consoleErrors.Add(e);

        await page.GotoAsync(_http.BaseAddress + "dashboard/?refresh=1");

        // Protected: the page asks for the master key before it shows any figure.
        var keyInput = page.Locator("#auth-key");
        await keyInput.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible, Timeout = 15_000 });
        Assert.That(await page.Locator("#main").IsHiddenAsync(), Is.True);
        await keyInput.FillAsync(MasterKey);
        await page.Locator("#auth button").ClickAsync();

        await page.WaitForFunctionAsync("() => window.llmDashboard && window.llmDashboard.refreshes >= 2", null, new PageWaitForFunctionOptions { Timeout = 20_000 });
        // Traffic while the page polls, so the request-rate chart has a non-zero point.
        await ChatAsync("gpt-4o-mini", 3);
        await page.WaitForFunctionAsync(
            "() => window.llmDashboard.charts.rate.data.datasets[0].data.some(v => v > 0)", null, new PageWaitForFunctionOptions { Timeout = 20_000 });

        foreach (var chart in new[] { "rate", "latency", "system", "tokensModel", "costModel", "costKey" })
        {
            var points = await page.EvaluateAsync<double>(
                $"() => window.llmDashboard.charts.{chart}.data.datasets.reduce((n, d) => n + d.data.filter(v => typeof v === 'number' && v > 0).length, 0)");
            Assert.That(points, Is.GreaterThan(0), $"chart {chart} has no data");
        }
        var models = await page.EvaluateAsync<string[]>("() => window.llmDashboard.charts.tokensModel.data.datasets.map(d => d.label)");
        Assert.That(models, Is.SupersetOf(new[] { "gpt-4o-mini", "gpt-4o" }));
        var canvasDrawn = await page.EvaluateAsync<bool>(
            "() => [...document.querySelectorAll('canvas')].every(c => c.width > 0 && c.height > 0)");
        Assert.That(canvasDrawn, Is.True);
        // Every chat request is a ledger row; the table catches up within a refresh or two.
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#recent tr').length >= 9", null, new PageWaitForFunctionOptions { Timeout = 20_000 });
        Assert.That(await page.Locator("#components li").CountAsync(), Is.GreaterThan(0));

        var shot = Path.Combine(TestContext.CurrentContext.WorkDirectory, "dashboard.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
        TestContext.AddTestAttachment(shot, "dashboard screenshot");
        Assert.That(new FileInfo(shot).Length, Is.GreaterThan(10_000));
        Assert.That(consoleErrors, Is.Empty, string.Join("\n", consoleErrors));
    }
}
