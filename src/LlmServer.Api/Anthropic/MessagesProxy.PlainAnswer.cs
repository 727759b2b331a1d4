using System.Text.Json;
using LlmServer.Dto.Anthropic;
using LlmServer.External.Anthropic;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Masking;

namespace LlmServer.Api.Anthropic;

public sealed partial class MessagesProxy
{
    /// <summary>
    /// A plain (non-streamed) passthrough answer, read whole before anything reaches the client: a 200 whose body
    /// is not complete JSON (garbage, or cut before its end) is a 502, never relayed as success.
    /// </summary>
    private async Task RelayPlainAsync(HttpContext context, MessagesUpstream upstream, HttpResponseMessage response, UpstreamCall call,
        UsageBox? usage, MaskingSession? restore, string? publicModel)
    {
        byte[] bytes;
        try
        {
            call.Arm();
            bytes = await response.Content.ReadAsByteArrayAsync(call.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            if (context.RequestAborted.IsCancellationRequested) return;
            LogStreamBroken(logger, upstream.Name, call.TimedOut);
            await WriteErrorAsync(context, call.TimedOut ? 504 : 502, call.TimedOut ? AnthropicErrorTypes.Timeout : AnthropicErrorTypes.Api,
                call.TimedOut ? "The upstream provider stopped responding." : "The connection to the upstream provider was lost before the answer was complete.");
            return;
        }
        if (!IsCompleteJson(bytes))
        {
            LogBadUpstreamBody(logger, upstream.Name);
            await WriteErrorAsync(context, 502, AnthropicErrorTypes.Api, "The upstream provider returned an invalid response.");
            return;
        }
        var scanner = usage is null ? null : new AnthropicUsageScanner(false);
        if (restore is not null)
        {
            using var source = new MemoryStream(bytes, writable: false);
            await RestorePlainAsync(context, source, restore, publicModel, scanner, call);
        }
        else
        {
            scanner?.Feed(bytes);
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
        }
        scanner?.Complete();
        if (usage is not null) usage.Value = scanner?.Usage;
    }

    private static bool IsCompleteJson(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            reader.Skip();
            while (reader.Read()) { }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
