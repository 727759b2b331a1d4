using System.Globalization;
using System.Text;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Routing;

namespace LlmServer.Api.Dialects.OpenAi;

internal sealed partial class OpenAiExchange
{
    /// <summary>
    /// Fits a request (chat, completion or response) into its deployment's context (see <see cref="ContextLimits"/>): the body edit that
    /// lowers max_tokens (and the response header saying so), or the refusal of a prompt that does not fit at all.
    /// Nothing is counted unless the context length is known and max_tokens was given.
    /// </summary>
    private (ExchangeError? Refused, BodyEdit? Edit) FitContext(Call call, ModelEntry model, ReadOnlyMemory<byte> body, in RequestScan scan)
    {
        if (scan.MaxTokensStart < 0 || !ContextLimits.Applies(model.MaxModelLen, scan.MaxTokens)) return (null, null);
        var fit = ContextLimits.Decide(model.MaxModelLen, tokens.CountRequest(model.Root, body.Span), scan.MaxTokens);
        switch (fit.Verdict)
        {
            case ContextVerdict.PromptTooLong:
                var prompt = call.X.Surface switch { ExchangeSurface.Completions => "prompt", ExchangeSurface.Responses => "input", _ => "messages" };
                return (ExchangeErrors.InvalidRequest(fit.OpenAiMessage, prompt, "context_length_exceeded"), null);
            case ContextVerdict.Clamped:
                call.Ctx.Response.Headers[ContextDecision.ClampedHeader] = fit.ClampedHeaderValue;
                var value = Encoding.UTF8.GetBytes(fit.MaxTokens!.Value.ToString(CultureInfo.InvariantCulture));
                return (null, new BodyEdit(scan.MaxTokensStart, scan.MaxTokensLength, value));
            default:
                return (null, null);
        }
    }
}
