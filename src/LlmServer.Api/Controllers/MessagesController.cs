using LlmServer.Api.Anthropic;
using LlmServer.Dto.Anthropic;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Controllers;

/// <summary>
/// Anthropic-compatible Messages API. Send <c>anthropic-version</c> and either <c>x-api-key</c> or
/// <c>Authorization: Bearer</c>, as Anthropic's SDKs do. Errors use Anthropic's shape
/// <c>{"type":"error","error":{"type","message"}}</c>.
/// </summary>
[ApiController]
[Route("v1/messages")]
public sealed class MessagesController(MessagesProxy proxy) : ControllerBase
{
    /// <summary>Creates a message (plain JSON, or server-sent events when <c>"stream": true</c>).</summary>
    [HttpPost]
    [Produces("application/json", "text/event-stream")]
    [ProducesResponseType(typeof(AnthropicMessage), StatusCodes.Status200OK)]
    [ProducesResponseType(typeof(AnthropicErrorResponse), StatusCodes.Status400BadRequest)]
    public Task Create() => proxy.MessagesAsync(HttpContext);

    /// <summary>Counts (estimates, unless an Anthropic upstream serves the model) the input tokens of a request.</summary>
    [HttpPost("count_tokens")]
    [Produces("application/json")]
    [ProducesResponseType(typeof(AnthropicCountTokensResponse), StatusCodes.Status200OK)]
    [ProducesResponseType(typeof(AnthropicErrorResponse), StatusCodes.Status400BadRequest)]
    public Task CountTokens() => proxy.CountTokensAsync(HttpContext);
}
