using LlmServer.Services.Transport;
using System.Net;
using System.Net.Http.Headers;
using LlmServer.Services.Routing;

namespace LlmServer.Services.Dialects.OpenAi;

/// <summary>A byte edit of the request body: replace <see cref="Remove"/> bytes at <see cref="Offset"/> with <see cref="Insert"/>.</summary>
public readonly record struct BodyEdit(int Offset, int Remove, ReadOnlyMemory<byte> Insert);

/// <summary>
/// The client's body with at most two edits: the model name (per deployment, only when it differs) and the
/// include_usage injection. Written straight from the pooled buffer; no copy of the body is made.
/// </summary>
public sealed class SplicedBody(ReadOnlyMemory<byte> body, RequestScan scan, BodyEdit? usageEdit) : UpstreamBody
{
    private static readonly MediaTypeHeaderValue s_json = new("application/json");
    private static readonly ReadOnlyMemory<byte> s_modelKey = "\"model\":"u8.ToArray();

    public override HttpContent Create(Deployment deployment)
    {
        BodyEdit? modelEdit = null;
        var target = deployment.UpstreamModelJson;
        if (scan.ModelStart >= 0)
        {
            if (!body.Span.Slice(scan.ModelStart, scan.ModelLength).SequenceEqual(target.Span))
            {
                modelEdit = new BodyEdit(scan.ModelStart, scan.ModelLength, target);
            }
        }
        else
        {
            // NOTE: no model in the request: insert the default model's upstream name as the first member.
            var insert = new byte[s_modelKey.Length + target.Length + (scan.PropertyCount > 0 ? 1 : 0)];
            s_modelKey.Span.CopyTo(insert);
            target.Span.CopyTo(insert.AsSpan(s_modelKey.Length));
            if (scan.PropertyCount > 0) insert[^1] = (byte)',';
            modelEdit = new BodyEdit(scan.ObjectStart + 1, 0, insert);
        }
        var content = new Content(body, modelEdit, usageEdit);
        content.Headers.ContentType = s_json;
        return content;
    }

    /// <summary>The edit that makes a streaming request ask for a usage chunk, or null when the client asked already.</summary>
    public static BodyEdit? IncludeUsageEdit(in RequestScan scan)
    {
        if (!scan.Stream || scan.IncludeUsage) return null;
        if (scan.IncludeUsageStart >= 0) return new BodyEdit(scan.IncludeUsageStart, scan.IncludeUsageLength, "true"u8.ToArray());
        if (scan.StreamOptionsStart >= 0)
        {
            if (scan.StreamOptionsIsNull) return new BodyEdit(scan.StreamOptionsStart, scan.StreamOptionsLength, "{\"include_usage\":true}"u8.ToArray());
            return new BodyEdit(scan.StreamOptionsStart + 1, 0, scan.StreamOptionsHasMembers ? "\"include_usage\":true,"u8.ToArray() : "\"include_usage\":true"u8.ToArray());
        }
        return new BodyEdit(scan.ObjectEnd, 0, ",\"stream_options\":{\"include_usage\":true}"u8.ToArray());
    }

    private sealed class Content(ReadOnlyMemory<byte> body, BodyEdit? a, BodyEdit? b) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var (first, second) = Order(a, b);
            var pos = await WriteEditAsync(stream, first, 0, cancellationToken).ConfigureAwait(false);
            pos = await WriteEditAsync(stream, second, pos, cancellationToken).ConfigureAwait(false);
            if (pos < body.Length) await stream.WriteAsync(body[pos..], cancellationToken).ConfigureAwait(false);
        }

        private async ValueTask<int> WriteEditAsync(Stream stream, BodyEdit? edit, int pos, CancellationToken cancellationToken)
        {
            if (edit is not { } e) return pos;
            if (e.Offset > pos) await stream.WriteAsync(body[pos..e.Offset], cancellationToken).ConfigureAwait(false);
            if (!e.Insert.IsEmpty) await stream.WriteAsync(e.Insert, cancellationToken).ConfigureAwait(false);
            return e.Offset + e.Remove;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            if (a is { } x) length += x.Insert.Length - x.Remove;
            if (b is { } y) length += y.Insert.Length - y.Remove;
            return true;
        }

        private static (BodyEdit?, BodyEdit?) Order(BodyEdit? x, BodyEdit? y) =>
            x is { } p && y is { } q && q.Offset < p.Offset ? (y, x) : (x, y);
    }
}
