using System.Net;
using LlmServer.Services.Errors;
using LlmServer.Services.Exchange;
using TransportResult = LlmServer.Services.Transport.UpstreamResult;

namespace LlmServer.External.OpenAi;

/// <summary>
/// The body of an upstream answer as the SDK reads it, under the transport's body timers: each read arms the idle
/// timer (bounded by the total deadline). A timer that fires is <c>upstream_timeout</c>, a connection that breaks is
/// <c>upstream_disconnected</c>, as on the other APIs; the client going away stays a cancellation. Disposing the
/// content ends the upstream exchange.
/// </summary>
internal sealed class RelayedContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly TransportResult _result;
    private int _disposed;

    public RelayedContent(HttpContent inner, TransportResult result)
    {
        _inner = inner;
        _result = result;
        foreach (var (name, values) in inner.Headers) Headers.TryAddWithoutValidation(name, values);
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new TimedStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _result);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        // NOTE: the result owns the response that owns this content; the flag stops the cycle.
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _inner.Dispose();
            _result.Dispose();
        }
        base.Dispose(disposing);
    }

    private sealed class TimedStream(Stream inner, TransportResult result) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            result.ArmRead();
            using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, result.Token) : null;
            try
            {
                return await inner.ReadAsync(buffer, linked?.Token ?? result.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !result.CancelledByClient)
            {
                throw LlmServerException.From(ExchangeErrors.UpstreamStalled);
            }
            catch (IOException) when (!cancellationToken.IsCancellationRequested && !result.CancelledByClient)
            {
                throw LlmServerException.From(ExchangeErrors.UpstreamDisconnected);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
