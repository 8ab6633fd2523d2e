using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Front;

/// <summary>
/// --proxy-protocol: reads a PROXY header (v1 or v2) at the start of each connection, before TLS
/// and HTTP, as gunicorn does. From a --proxy-allow-from peer the header's client becomes the
/// connection's remote end (REMOTE_ADDR, REMOTE_PORT, the access log) and the header is kept for
/// the environ's PROXY_* keys. A connection without a header is served as it is. A header from
/// any other peer is refused with 403, an invalid one with 400 (on a TLS listener the connection
/// is closed instead, as the client expects a TLS answer).
/// </summary>
internal sealed class ProxyProtocolMiddleware(ConnectionDelegate next, AllowList allowFrom, bool tls, TimeSpan headerTimeout, ILogger log, Action<string>? refused)
{
    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        PipeReader input = connection.Transport.Input;
        using var timeout = new CancellationTokenSource(headerTimeout);
        while (true)
        {
            ReadResult read;
            try
            {
                read = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                return; // nothing complete within the time a request head may take: closed, as Kestrel would
            }

            ReadOnlySequence<byte> buffer = read.Buffer;
            ProxyProtocol.Outcome outcome = ProxyProtocol.TryParse(buffer, out ProxyHeader? header, out int length, out string? error);
            if (outcome == ProxyProtocol.Outcome.NeedMore)
            {
                if (read.IsCompleted)
                {
                    return; // the client went away inside the header
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            if (outcome == ProxyProtocol.Outcome.None)
            {
                input.AdvanceTo(buffer.Start);
                break;
            }

            EndPoint? peer = connection.RemoteEndPoint;
            if (!allowFrom.Allows((peer as IPEndPoint)?.Address))
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                FrontLog.ProxyHeaderRefused(log, PeerText(peer), tls ? "the connection was closed" : "answered 403");
                refused?.Invoke("proxy_not_allowed");
                await RefuseAsync(connection, 403, "Forbidden", "PROXY protocol header from an address not in --proxy-allow-from").ConfigureAwait(false);
                return;
            }

            if (outcome == ProxyProtocol.Outcome.Invalid)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                FrontLog.ProxyHeaderInvalid(log, PeerText(peer), error!, tls ? "the connection was closed" : "answered 400");
                refused?.Invoke("proxy_invalid");
                await RefuseAsync(connection, 400, "Bad Request", "Invalid PROXY protocol header").ConfigureAwait(false);
                return;
            }

            input.AdvanceTo(buffer.GetPosition(length));
            if (header is not null)
            {
                connection.Features.Set(new ProxyProtocolFeature(header, (peer as IPEndPoint)?.Address));
                connection.RemoteEndPoint = header.Source;
                connection.LocalEndPoint = header.Destination;
            }

            break;
        }

        await next(connection).ConfigureAwait(false);
    }

    private async Task RefuseAsync(ConnectionContext connection, int status, string reason, string message)
    {
        if (!tls)
        {
            string body = message + "\n";
            string response = $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
            await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(response)).ConfigureAwait(false);
        }

        await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
    }

    private static string PeerText(EndPoint? peer) => peer switch
    {
        IPEndPoint ip => (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString(),
        null => "an unknown peer",
        _ => peer.ToString() is { Length: > 0 } text ? text : "a Unix socket peer",
    };
}
