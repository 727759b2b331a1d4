using System.Text;
using LlmServer.Tests.Integration.Gateway;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>Raw requests as a coding agent sends them, for tests that look at the exact body and headers.</summary>
internal static class AgentRequests
{
    /// <summary>
    /// POSTs <paramref name="json"/> with the master key and <c>anthropic-version</c> (which the OpenAI paths ignore);
    /// the response comes back with its body already read.
    /// </summary>
    public static async Task<(HttpResponseMessage Response, string Text)> PostAsync(GatewayHost host, string path, string json)
    {
        using var http = host.Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("anthropic-version", "2023-06-01");
        var response = await http.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }
}
