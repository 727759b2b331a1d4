using System.Globalization;
using System.Text;
using LlmServer.Services.Routing;

namespace LlmServer.Api.Proxy;

internal sealed partial class GatewayProxy
{
    /// <summary>
    /// Fits a chat request into its deployment's context (see <see cref="ContextLimits"/>): the body edit that
    /// lowers max_tokens (and the response header saying so), or a 400 context_length_exceeded already written
    /// (<c>Refused</c>). Nothing is counted unless the context length is known and max_tokens was given.
    /// </summary>
    private async ValueTask<(bool Refused, BodyEdit? Edit)> FitContextAsync(Exchange x, ModelEntry model, ReadOnlyMemory<byte> body, RequestScan scan)
    {
        if (scan.MaxTokensStart < 0 || !ContextLimits.Applies(model.MaxModelLen, scan.MaxTokens)) return (false, null);
        var fit = ContextLimits.Decide(model.MaxModelLen, tokens.CountRequest(model.Root, body.Span), scan.MaxTokens);
        switch (fit.Verdict)
        {
            case ContextVerdict.PromptTooLong:
                await FailAsync(x, 400, fit.OpenAiMessage, "context_length_exceeded", "invalid_request_error", "messages");
                return (true, null);
            case ContextVerdict.Clamped:
                x.Ctx.Response.Headers[ContextDecision.ClampedHeader] = fit.ClampedHeaderValue;
                var value = Encoding.UTF8.GetBytes(fit.MaxTokens!.Value.ToString(CultureInfo.InvariantCulture));
                return (false, new BodyEdit(scan.MaxTokensStart, scan.MaxTokensLength, value));
            default:
                return (false, null);
        }
    }
}
