namespace LlmServer.FakeUpstream;

/// <summary>Standalone: dotnet run --project tests/LlmServer.FakeUpstream -- --urls http://127.0.0.1:18080</summary>
internal static class FakeUpstreamProgram
{
    public static async Task Main(string[] args)
    {
        var urls = args.SkipWhile(a => a != "--urls").Skip(1).FirstOrDefault() ?? "http://127.0.0.1:18080";
        await using var server = await FakeUpstreamServer.StartAsync(urls);
        Console.WriteLine($"fake upstream listening on {server.BaseUrl}");
        var done = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => done.TrySetResult();
        await done.Task;
    }
}
