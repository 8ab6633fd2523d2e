using System.Buffers;
using System.IO.Pipelines;
using Lanner.Protocol;
using Lanner.Workers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Front;

/// <summary>
/// Turns the response events of an exchange into the HTTP response: validates the app's status
/// and headers, writes the body as it arrives (flushing each streamed chunk), sends files the
/// worker handed over, and answers 500/502/503/504 for failures. One per server; stateless.
/// </summary>
internal sealed class AppResponder(ILogger logger, Action<string>? onFailure = null)
{
    private static readonly byte[] Page500 = FailureMap.Page(500);

    /// <summary>What went out: the body bytes, or nothing at all because the client left first.</summary>
    public readonly record struct Sent(long Bytes, bool ClientGoneBefore);

    /// <summary>Consumes every event of the exchange, up to its terminal one.</summary>
    public async Task<Sent> WriteAsync(HttpContext context, Exchange exchange, Action onClientGone)
    {
        var state = new ResponseState();
        while (true)
        {
            if (!exchange.TryRead(out ResponseEvent ev))
            {
                await exchange.WaitAsync().ConfigureAwait(false);
                continue;
            }

            if (!state.Discarding && (exchange.ClientAborted || context.RequestAborted.IsCancellationRequested) && !context.Response.HasStarted)
            {
                // The client went away (a reset, an HTTP/2 cancel, or a FIN, which Kestrel takes
                // as one) before any of the response: Kestrel would drop every byte written now,
                // so none is, and the access log says 499 as nginx's does, not the app's status.
                state.Discarding = true;
                state.ClientGoneBefore = true;
            }

            bool done;
            try
            {
                done = state.Discarding
                    ? ev.IsTerminal || (ev.Kind == ResponseEventKind.File && Discard(exchange))
                    : await HandleAsync(context, exchange, ev, state).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsClientGone(ex))
            {
                // The client went away: tell the worker and keep draining its events.
                state.Discarding = true;
                onClientGone();
                exchange.ReleaseRoomWaiters();
                done = ev.IsTerminal;
            }
            finally
            {
                ev.ReturnBuffer();
            }

            if (done)
            {
                return new Sent(state.ClientGoneBefore ? 0 : state.Written, state.ClientGoneBefore);
            }
        }
    }

    /// <summary>Returns true when the response is complete.</summary>
    private async ValueTask<bool> HandleAsync(HttpContext context, Exchange exchange, ResponseEvent ev, ResponseState state)
    {
        HttpResponse response = context.Response;
        switch (ev.Kind)
        {
            case ResponseEventKind.Head:
            {
                Payloads.SplitHead(ev.Span, out ReadOnlySpan<byte> head, out ReadOnlySpan<byte> body);
                if (!ApplyHead(context, exchange, head, state))
                {
                    state.Written = await WriteAppFailureAsync(context).ConfigureAwait(false);
                    state.Discarding = true;
                    return ev.End;
                }

                if (ev.End && state.ContentLength is null && MayAddContentLength(context, response.StatusCode))
                {
                    response.ContentLength = body.Length;
                    state.ContentLength = body.Length;
                }

                int headLength = ev.Length - body.Length;
                return await WriteBodyAsync(context, exchange, ev.Memory[headLength..], ev.End, state).ConfigureAwait(false);
            }

            case ResponseEventKind.Body:
                return await WriteBodyAsync(context, exchange, ev.Memory, ev.End, state).ConfigureAwait(false);

            case ResponseEventKind.File:
                return await SendFileAsync(context, exchange, ev, state).ConfigureAwait(false);

            case ResponseEventKind.AppError:
                if (response.HasStarted)
                {
                    FrontLog.FailedAfterStart(logger, exchange.RequestLine, "the app raised");
                    context.Abort();
                }
                else
                {
                    state.Written = await WriteAppFailureAsync(context).ConfigureAwait(false);
                }

                return true;

            case ResponseEventKind.Failed:
                state.Written = await WriteFailureAsync(context, exchange, ev).ConfigureAwait(false);
                return true;

            default:
                throw new InvalidOperationException($"unknown event {ev.Kind}");
        }
    }

    private bool ApplyHead(HttpContext context, Exchange exchange, ReadOnlySpan<byte> marshalled, ResponseState state)
    {
        if (!ResponseHead.TryDecode(marshalled, out ResponseHead? head, out string? problem))
        {
            FrontLog.InvalidResponse(logger, exchange.RequestLine, problem!);
            return false;
        }

        if (!ResponseHeadValidator.TryParseStatus(head!.Status, out int code, out string reason, out problem))
        {
            FrontLog.InvalidResponse(logger, exchange.RequestLine, problem!);
            return false;
        }

        HttpResponse response = context.Response;
        IHeaderDictionary headers = response.Headers;
        long? contentLength = null;
        bool close = false;
        foreach ((string name, string rawValue) in head.Headers)
        {
            if (!ResponseHeadValidator.IsValidName(name))
            {
                FrontLog.InvalidResponse(logger, exchange.RequestLine, $"invalid header name '{ResponseHeadValidator.Printable(name)}'");
                headers.Clear();
                return false;
            }

            if (!ResponseHeadValidator.TryNormalizeValue(rawValue, out string value))
            {
                FrontLog.InvalidResponse(logger, exchange.RequestLine,
                    $"header '{name}' has an invalid value '{ResponseHeadValidator.Printable(rawValue)}' (line break, control or non-latin-1 character)");
                headers.Clear();
                return false;
            }

            switch (HopByHop.Classify(name))
            {
                case HopByHop.Kind.ContentLength:
                    if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long length)
                        || (contentLength is long earlier && earlier != length))
                    {
                        FrontLog.InvalidResponse(logger, exchange.RequestLine, $"invalid Content-Length '{ResponseHeadValidator.Printable(value)}'");
                        headers.Clear();
                        return false;
                    }

                    contentLength = length;
                    continue;
                case HopByHop.Kind.Connection:
                    close |= value.Contains("close", StringComparison.OrdinalIgnoreCase);
                    continue;
                case HopByHop.Kind.Drop:
                    continue;
                default:
                    headers.Append(name, value);
                    break;
            }
        }

        // 204 and 205 carry no content, so no Content-Length either (RFC 9110 8.6, 15.3.6);
        // Kestrel refuses to send one. 304 keeps it: it describes the representation.
        if (code is 204 or 205)
        {
            contentLength = null;
        }

        response.StatusCode = code;
        if (reason.Length > 0 && !string.Equals(reason, Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(code), StringComparison.Ordinal))
        {
            context.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = reason;
        }

        if (contentLength is not null)
        {
            response.ContentLength = contentLength;
        }

        if (close)
        {
            headers.Connection = "close";
        }

        state.ContentLength = contentLength;
        state.NoBody = code is 204 or 205 or 304 || HttpMethods.IsHead(context.Request.Method);
        return true;
    }

    private static bool MayAddContentLength(HttpContext context, int status) =>
        status is not (204 or 205 or 304) && !HttpMethods.IsHead(context.Request.Method);

    private async ValueTask<bool> WriteBodyAsync(HttpContext context, Exchange exchange, ReadOnlyMemory<byte> data, bool end, ResponseState state)
    {
        if (state.NoBody)
        {
            // HEAD, 204, 205, 304: the app's bytes are counted (as gunicorn's %(B)s does for HEAD)
            // but not sent.
            state.Written += data.Length;
            if (!end && !context.Response.HasStarted)
            {
                await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            }

            return end;
        }

        if (!data.IsEmpty)
        {
            if (state.ContentLength is long limit)
            {
                long room = limit - state.Written;
                if (data.Length > room)
                {
                    // Like gunicorn, never send more than the announced length.
                    FrontLog.ContentLengthExceeded(logger, exchange.RequestLine);
                    data = data[..(int)Math.Max(room, 0)];
                }
            }

            state.Written += data.Length;
            PipeWriter writer = context.Response.BodyWriter;
            writer.Write(data.Span);
            if (!end)
            {
                FlushResult flushed = await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
                if (flushed.IsCanceled || flushed.IsCompleted)
                {
                    throw new OperationCanceledException("the client went away");
                }
            }
        }
        else if (!end && !context.Response.HasStarted)
        {
            await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        }

        if (end && state.ContentLength is long declared && state.Written < declared)
        {
            await EndShortAsync(context, exchange, state, declared).ConfigureAwait(false);
        }

        return end;
    }

    /// <summary>
    /// The app ended its body before its Content-Length. Like gunicorn, the client gets what
    /// there is and then the connection closes, so it sees a truncated response rather than
    /// waiting for bytes that never come or reading the next response as this one's body.
    /// </summary>
    private async ValueTask EndShortAsync(HttpContext context, Exchange exchange, ResponseState state, long declared)
    {
        FrontLog.ContentLengthShort(logger, exchange.RequestLine, state.Written, declared);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        context.Abort();
    }

    private async ValueTask<bool> SendFileAsync(HttpContext context, Exchange exchange, ResponseEvent ev, ResponseState state)
    {
        Payloads.SplitHead(ev.Span, out ReadOnlySpan<byte> head, out ReadOnlySpan<byte> spec);
        FileRange range = FileRange.Decode(spec);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle($"/proc/{ev.WorkerPid}/fd/{range.Fd}", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            exchange.Worker?.AckFile(exchange, opened: false);
            return false;
        }

        using (handle)
        {
            exchange.Worker?.AckFile(exchange, opened: true);
            if (!ApplyHead(context, exchange, head, state))
            {
                state.Written = await WriteAppFailureAsync(context).ConfigureAwait(false);
                return true;
            }

            long count = range.Count;
            long expected = state.ContentLength ?? count;
            if (state.ContentLength is long limit)
            {
                count = Math.Min(count, limit);
            }
            else if (MayAddContentLength(context, context.Response.StatusCode))
            {
                context.Response.ContentLength = count;
            }

            if (state.NoBody)
            {
                return true;
            }

            PipeWriter writer = context.Response.BodyWriter;
            long offset = range.Offset;
            while (count > 0)
            {
                Memory<byte> memory = writer.GetMemory(64 * 1024);
                int want = (int)Math.Min(memory.Length, count);
                int read = await RandomAccess.ReadAsync(handle, memory[..want], offset, context.RequestAborted).ConfigureAwait(false);
                if (read == 0)
                {
                    break; // the file shrank: the client sees a short body and the connection closes
                }

                writer.Advance(read);
                offset += read;
                count -= read;
                state.Written += read;
                FlushResult flushed = await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
                if (flushed.IsCanceled || flushed.IsCompleted)
                {
                    throw new OperationCanceledException("the client went away");
                }
            }

            if (state.Written < expected)
            {
                // The file shrank, or the app announced more than the file holds.
                await EndShortAsync(context, exchange, state, expected).ConfigureAwait(false);
            }
        }

        return true;
    }

    private static bool Discard(Exchange exchange)
    {
        // Nobody will send this file: let the worker finish the stream itself.
        exchange.Worker?.AckFile(exchange, opened: false);
        return false;
    }

    private static async Task<long> WriteAppFailureAsync(HttpContext context)
    {
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return 0;
        }

        return await FailureMap.WritePageAsync(response, 500, Page500).ConfigureAwait(false);
    }

    private async Task<long> WriteFailureAsync(HttpContext context, Exchange exchange, ResponseEvent ev)
    {
        FailureMap.Entry entry = FailureMap.Of(ev.Failure);
        HttpResponse response = context.Response;
        onFailure?.Invoke(entry.Label);
        if (exchange.ClientAborted)
        {
            return 0;
        }

        if (response.HasStarted)
        {
            FrontLog.FailedAfterStart(logger, exchange.RequestLine, ev.Text ?? entry.Label);
            context.Abort();
            return 0;
        }

        FrontLog.Failed(logger, entry.Level, exchange.RequestLine, entry.Status, entry.Label, ev.Text is null ? "" : ": " + ev.Text);
        return await FailureMap.WritePageAsync(response, entry.Status, FailureMap.Page(entry.Status), entry.RetryAfter).ConfigureAwait(false);
    }

    private static bool IsClientGone(Exception ex) =>
        ex is OperationCanceledException or IOException or Microsoft.AspNetCore.Connections.ConnectionAbortedException
        || (ex is InvalidOperationException && ex.Message.Contains("Content-Length", StringComparison.Ordinal));

    /// <summary>What has been decided about the response so far.</summary>
    private sealed class ResponseState
    {
        public long? ContentLength { get; set; }

        public long Written { get; set; }

        /// <summary>HEAD, or a status without content (204, 205, 304): body bytes are not sent.</summary>
        public bool NoBody { get; set; }

        /// <summary>The client is gone (or the head was invalid): read the remaining events without writing.</summary>
        public bool Discarding { get; set; }

        /// <summary>The client was gone before the response started: nothing of it went out.</summary>
        public bool ClientGoneBefore { get; set; }
    }
}

/// <summary>Headers an app must not set (PEP 3333: hop-by-hop) and how each is treated.</summary>
internal static class HopByHop
{
    public enum Kind
    {
        Keep,
        ContentLength,
        Connection,
        Drop,
    }

    public static Kind Classify(string name) => name.Length switch
    {
        10 when name.Equals("Connection", StringComparison.OrdinalIgnoreCase) => Kind.Connection,
        10 when name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase) => Kind.Drop,
        14 when name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) => Kind.ContentLength,
        17 when name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) => Kind.Drop,
        16 when name.Equals("Proxy-Connection", StringComparison.OrdinalIgnoreCase) => Kind.Drop,
        2 when name.Equals("TE", StringComparison.OrdinalIgnoreCase) => Kind.Drop,
        7 when name.Equals("Trailer", StringComparison.OrdinalIgnoreCase) || name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase) => Kind.Drop,
        _ => Kind.Keep,
    };
}
