using System.Buffers;
using System.IO.Pipelines;
using Lanner.Protocol;
using Lanner.Workers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace Lanner.Hosting.Front;

/// <summary>
/// The request body as the front sees it: the first part is read before dispatch and travels in
/// the Request frame (a worker never waits for a slow client on a small upload); the rest is read
/// when the worker pulls it. Errors of the client (gone, malformed chunking) surface as IOException.
/// </summary>
internal sealed class RequestBodySource(PipeReader reader) : IRequestBodySource
{
    /// <summary>
    /// Bytes read before dispatch: 1 MiB. Whole forms and typical JSON or file uploads arrive
    /// complete, so the worker never waits on the network for them; larger bodies stream.
    /// </summary>
    public const int InlineLimit = 1024 * 1024;

    /// <summary>Appends up to <see cref="InlineLimit"/> body bytes to <paramref name="payload"/>; true when that is the whole body.</summary>
    public static async ValueTask<bool> ReadInlineAsync(PipeReader reader, ByteBuffer payload, long? contentLength, CancellationToken cancellationToken)
    {
        long inline = 0;
        while (true)
        {
            ReadResult result = await ReadAsync(reader, cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            long take = Math.Min(buffer.Length, InlineLimit - inline);
            foreach (ReadOnlyMemory<byte> segment in buffer.Slice(0, take))
            {
                payload.Write(segment.Span);
            }

            inline += take;
            reader.AdvanceTo(buffer.GetPosition(take));
            if (result.IsCompleted && take == buffer.Length)
            {
                return true;
            }

            if (contentLength is long length && inline >= length)
            {
                return true;
            }

            if (inline >= InlineLimit)
            {
                return false;
            }
        }
    }

    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        ReadResult result = await ReadAsync(reader, cancellationToken).ConfigureAwait(false);
        ReadOnlySequence<byte> buffer = result.Buffer;
        int take = (int)Math.Min(buffer.Length, destination.Length);
        buffer.Slice(0, take).CopyTo(destination.Span);
        reader.AdvanceTo(buffer.GetPosition(take));
        return take;
    }

    private static async ValueTask<ReadResult> ReadAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BadHttpRequestException or ConnectionAbortedException or InvalidOperationException)
        {
            throw new IOException(ex.Message, ex);
        }
    }
}
