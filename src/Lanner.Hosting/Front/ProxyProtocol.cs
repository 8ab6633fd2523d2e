using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Lanner.Hosting.Front;

/// <summary>
/// What a PROXY protocol header said about a connection: the client and the address it reached
/// the proxy on. <see cref="Protocol"/> is gunicorn's PROXY_PROTOCOL value (TCP4 or TCP6).
/// </summary>
internal sealed record ProxyHeader(string Protocol, IPEndPoint Source, IPEndPoint Destination);

/// <summary>
/// The connection's PROXY header, kept among the connection's features for the environ, with the
/// peer that sent it (null: a Unix socket): trust in forwarded headers is the peer's, not the client's.
/// </summary>
internal sealed class ProxyProtocolFeature(ProxyHeader header, IPAddress? peer)
{
    public ProxyHeader Header { get; } = header;

    public IPAddress? Peer { get; } = peer;
}

/// <summary>
/// Parses the PROXY protocol header (HAProxy's specification, versions 1 and 2) at the start of a
/// connection. Pure: the caller feeds it what it has read so far and acts on the outcome.
/// </summary>
internal static class ProxyProtocol
{
    /// <summary>The outcome of looking at the first bytes of a connection.</summary>
    public enum Outcome
    {
        /// <summary>The bytes so far may still become a header: read more.</summary>
        NeedMore,

        /// <summary>No header: the connection starts with its first request.</summary>
        None,

        /// <summary>A valid header; <c>header</c> is null when it carries no address (v1 UNKNOWN, v2 LOCAL or UNSPEC).</summary>
        Parsed,

        /// <summary>A header that breaks the specification; <c>error</c> says how.</summary>
        Invalid,
    }

    /// <summary>A v1 line is at most 107 bytes with its CRLF.</summary>
    public const int V1MaxLength = 107;

    private static readonly byte[] V1Prefix = "PROXY "u8.ToArray();

    private static readonly byte[] V2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>
    /// Looks at <paramref name="input"/>, the bytes read from the connection so far. On
    /// <see cref="Outcome.Parsed"/>, <paramref name="length"/> is the header's length in bytes,
    /// to be consumed; the request follows it.
    /// </summary>
    public static Outcome TryParse(ReadOnlySequence<byte> input, out ProxyHeader? header, out int length, out string? error)
    {
        header = null;
        length = 0;
        error = null;
        // A v2 header is at most 16 + 65535 bytes; everything up to it is looked at in one span.
        Span<byte> start = stackalloc byte[V1MaxLength];
        int have = (int)Math.Min(input.Length, start.Length);
        input.Slice(0, have).CopyTo(start);
        start = start[..have];

        if (StartsAsPrefix(start, V2Signature) is bool v2)
        {
            return v2 ? ParseV2(input, out header, out length, out error) : Outcome.NeedMore;
        }

        if (StartsAsPrefix(start, V1Prefix) is bool v1)
        {
            return v1 ? ParseV1(start, out header, out length, out error) : Outcome.NeedMore;
        }

        return Outcome.None;
    }

    /// <summary>True: the bytes start with all of <paramref name="signature"/>; false: they are a proper prefix of it; null: they differ.</summary>
    private static bool? StartsAsPrefix(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> signature)
    {
        int n = Math.Min(bytes.Length, signature.Length);
        if (!bytes[..n].SequenceEqual(signature[..n]))
        {
            return null;
        }

        return n == signature.Length;
    }

    private static Outcome ParseV1(ReadOnlySpan<byte> start, out ProxyHeader? header, out int length, out string? error)
    {
        header = null;
        length = 0;
        error = null;
        int end = start.IndexOf("\r\n"u8);
        if (end < 0)
        {
            if (start.Length >= V1MaxLength)
            {
                error = $"a v1 header longer than {V1MaxLength} bytes";
                return Outcome.Invalid;
            }

            if (start.IndexOfAny((byte)'\r', (byte)'\n') is int stray and >= 0 && !(stray == start.Length - 1 && start[stray] == '\r'))
            {
                error = "a v1 header not ended by CRLF";
                return Outcome.Invalid;
            }

            return Outcome.NeedMore;
        }

        length = end + 2;
        string line = Encoding.Latin1.GetString(start[..end]);
        string[] parts = line.Split(' ');
        if (parts.Length >= 2 && parts[1] == "UNKNOWN")
        {
            return Outcome.Parsed; // the proxy could not tell: the connection's own peer stands
        }

        if (parts.Length != 6 || (parts[1] != "TCP4" && parts[1] != "TCP6"))
        {
            error = $"a v1 header that is not 'PROXY TCP4|TCP6 SOURCE DESTINATION SPORT DPORT': '{Printable(line)}'";
            return Outcome.Invalid;
        }

        AddressFamily family = parts[1] == "TCP4" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (Address(parts[2], family) is not { } source || Address(parts[3], family) is not { } destination
            || Port(parts[4]) is not int sourcePort || Port(parts[5]) is not int destinationPort)
        {
            error = $"a v1 header with an invalid address or port: '{Printable(line)}'";
            return Outcome.Invalid;
        }

        header = new ProxyHeader(parts[1], new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return Outcome.Parsed;
    }

    private static Outcome ParseV2(ReadOnlySequence<byte> input, out ProxyHeader? header, out int length, out string? error)
    {
        header = null;
        length = 0;
        error = null;
        if (input.Length < 16)
        {
            return Outcome.NeedMore;
        }

        Span<byte> fixedPart = stackalloc byte[16];
        input.Slice(0, 16).CopyTo(fixedPart);
        int versionCommand = fixedPart[12];
        int familyProtocol = fixedPart[13];
        int addressLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
        if (versionCommand >> 4 != 2)
        {
            error = $"a v2 header with version {versionCommand >> 4}";
            return Outcome.Invalid;
        }

        int command = versionCommand & 0xF;
        if (command > 1)
        {
            error = $"a v2 header with the unknown command {command}";
            return Outcome.Invalid;
        }

        if (input.Length < 16 + addressLength)
        {
            return Outcome.NeedMore;
        }

        length = 16 + addressLength;
        int family = familyProtocol >> 4;
        int transport = familyProtocol & 0xF;
        if (command == 0 || family == 0 || family == 3)
        {
            // LOCAL (the proxy's own health check), an unspecified family or a Unix socket
            // address: the connection's own peer stands; any address block is skipped.
            return Outcome.Parsed;
        }

        if (family > 3 || transport != 1)
        {
            error = $"a v2 header for family {family} and transport {transport} (only TCP over IPv4 or IPv6 carries HTTP)";
            return Outcome.Invalid;
        }

        int addressSize = family == 1 ? 4 : 16;
        if (addressLength < 2 * addressSize + 4)
        {
            error = $"a v2 header whose address block ({addressLength} bytes) is too short for its family";
            return Outcome.Invalid;
        }

        Span<byte> block = stackalloc byte[2 * addressSize + 4];
        input.Slice(16, block.Length).CopyTo(block);
        var source = new IPAddress(block[..addressSize]);
        var destination = new IPAddress(block.Slice(addressSize, addressSize));
        int sourcePort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * addressSize)..]);
        int destinationPort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * addressSize + 2)..]);
        header = new ProxyHeader(family == 1 ? "TCP4" : "TCP6", new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return Outcome.Parsed;
    }

    /// <summary>An address in its normal textual form for the family, or null.</summary>
    private static IPAddress? Address(string text, AddressFamily family)
    {
        if (!IPAddress.TryParse(text, out IPAddress? address) || address.AddressFamily != family || text.Contains('%', StringComparison.Ordinal))
        {
            return null;
        }

        // IPAddress.TryParse also takes "10.1" or "0x0a.0.0.1"; the specification wants dotted quads.
        return family == AddressFamily.InterNetworkV6 || address.ToString() == text ? address : null;
    }

    private static int? Port(string text) =>
        text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit) && int.Parse(text, CultureInfo.InvariantCulture) is int port and <= 65535 ? port : null;

    private static string Printable(string line) =>
        new(line.Select(c => c is >= ' ' and < '\x7f' ? c : '?').ToArray());
}
