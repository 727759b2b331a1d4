namespace LlmServer.Tests.Infrastructure;

/// <summary>The redis-server started by scripts/services.d/redis.sh (LLMSERVER_TEST_REDIS=host:port).</summary>
internal static class TestRedis
{
    /// <summary>The server's host:port; ignores the calling test when none was started.</summary>
    public static string RequireEndpoint()
    {
        if (Environment.GetEnvironmentVariable("LLMSERVER_TEST_REDIS") is not { Length: > 0 } endpoint)
        {
            Assert.Ignore("LLMSERVER_TEST_REDIS is not set: start redis-server with `source scripts/services.sh; services_start` (scripts/test.sh does).");
            return "";
        }
        return endpoint;
    }
}
