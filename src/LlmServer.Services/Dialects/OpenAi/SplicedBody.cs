using LlmServer.Services.Transport;
using System.Net;
using System.Net.Http.Headers;
using LlmServer.Services.Routing;

namespace LlmServer.Services.Dialects.OpenAi;

/// <summary>A byte edit of the request body: replace <see cref="Remove"/> bytes at <see cref="Offset"/> with <see cref="Insert"/>.</summary>
public readonly record struct BodyEdit(int Offset, int Remove, ReadOnlyMemory<byte> Insert);

/// <summary>
/// The client's body with at most three edits: the model name (per deployment, only when it differs), the
/// include_usage injection and a max_tokens lowered to fit the context. Written straight from the pooled
/// buffer; no copy of the body is made.
/// </summary>
public sealed class SplicedBody(ReadOnlyMemory<byte> body, RequestScan scan, BodyEdit? usageEdit, BodyEdit? maxTokensEdit = null) : UpstreamBody
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
        var content = new Content(body, modelEdit, usageEdit, maxTokensEdit);
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

    private sealed class Content : HttpContent
    {
        private readonly ReadOnlyMemory<byte> _body;
        private readonly BodyEdit[] _edits;

        public Content(ReadOnlyMemory<byte> body, BodyEdit? a, BodyEdit? b, BodyEdit? c)
        {
            _body = body;
            _edits = new BodyEdit[(a.HasValue ? 1 : 0) + (b.HasValue ? 1 : 0) + (c.HasValue ? 1 : 0)];
            var n = 0;
            if (a is { } x) _edits[n++] = x;
            if (b is { } y) _edits[n++] = y;
            if (c is { } z) _edits[n] = z;
            if (_edits.Length > 1) Array.Sort(_edits, static (p, q) => p.Offset.CompareTo(q.Offset));
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var pos = 0;
            foreach (var e in _edits)
            {
                if (e.Offset > pos) await stream.WriteAsync(_body[pos..e.Offset], cancellationToken).ConfigureAwait(false);
                if (!e.Insert.IsEmpty) await stream.WriteAsync(e.Insert, cancellationToken).ConfigureAwait(false);
                pos = e.Offset + e.Remove;
            }
            if (pos < _body.Length) await stream.WriteAsync(_body[pos..], cancellationToken).ConfigureAwait(false);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            foreach (var e in _edits) length += e.Insert.Length - e.Remove;
            return true;
        }
    }
}
