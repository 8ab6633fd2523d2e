using System.Buffers;
using System.Net;
using System.Text;
using Lanner.Hosting.Front;

namespace Lanner.Hosting.Tests.Front;

public class ProxyProtocolTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private const string Request = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

    private static ProxyProtocol.Outcome Parse(byte[] bytes, out ProxyHeader? header, out int length, out string? error) =>
        ProxyProtocol.TryParse(new ReadOnlySequence<byte>(bytes), out header, out length, out error);

    /// <summary>The same bytes as a sequence of one-byte segments, as a socket may deliver them.</summary>
    private static ReadOnlySequence<byte> Fragmented(byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(bytes.AsMemory(0, 1), 0);
        Segment last = first;
        for (int i = 1; i < bytes.Length; i++)
        {
            last = last.Append(bytes.AsMemory(i, 1));
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    private static byte[] V2(int versionCommand, int familyProtocol, byte[] block) =>
        [.. Signature, (byte)versionCommand, (byte)familyProtocol, (byte)(block.Length >> 8), (byte)block.Length, .. block];

    private static byte[] Ipv4Block(string source, string destination, int sourcePort, int destinationPort) =>
        [.. IPAddress.Parse(source).GetAddressBytes(), .. IPAddress.Parse(destination).GetAddressBytes(),
         (byte)(sourcePort >> 8), (byte)sourcePort, (byte)(destinationPort >> 8), (byte)destinationPort];

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\n", "TCP4", "203.0.113.7", 51234, "10.0.0.2", 8000)]
    [InlineData("PROXY TCP6 2001:db8::7 2001:db8::1 443 80\r\n", "TCP6", "2001:db8::7", 443, "2001:db8::1", 80)]
    [InlineData("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", "TCP4", "0.0.0.0", 0, "255.255.255.255", 65535)]
    public void A_v1_header_gives_the_client_and_the_proxy_address(string line, string protocol, string source, int sourcePort, string destination, int destinationPort)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(line + Request);
        Assert.Equal(ProxyProtocol.Outcome.Parsed, Parse(bytes, out ProxyHeader? header, out int length, out _));
        Assert.Equal(line.Length, length);
        Assert.Equal(new ProxyHeader(protocol, new IPEndPoint(IPAddress.Parse(source), sourcePort), new IPEndPoint(IPAddress.Parse(destination), destinationPort)), header);
    }

    [Theory]
    [InlineData("PROXY UNKNOWN\r\n")]
    [InlineData("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n")]
    public void A_v1_unknown_header_is_consumed_and_leaves_the_peer_as_it_is(string line)
    {
        Assert.Equal(ProxyProtocol.Outcome.Parsed, Parse(Encoding.ASCII.GetBytes(line + Request), out ProxyHeader? header, out int length, out _));
        Assert.Null(header);
        Assert.Equal(line.Length, length);
    }

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 51234\r\n")] // a port missing
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000 9\r\n")] // one part too many
    [InlineData("PROXY TCP4  203.0.113.7 10.0.0.2 51234 8000\r\n")] // two spaces
    [InlineData("PROXY UDP4 203.0.113.7 10.0.0.2 51234 8000\r\n")]
    [InlineData("PROXY TCP4 2001:db8::7 10.0.0.2 51234 8000\r\n")] // an IPv6 address under TCP4
    [InlineData("PROXY TCP6 203.0.113.7 2001:db8::1 51234 8000\r\n")] // an IPv4 address under TCP6
    [InlineData("PROXY TCP4 10.1 10.0.0.2 51234 8000\r\n")] // not a dotted quad
    [InlineData("PROXY TCP4 010.0.0.1 10.0.0.2 51234 8000\r\n")] // a leading zero
    [InlineData("PROXY TCP6 fe80::1%eth0 2001:db8::1 51234 8000\r\n")] // a zone
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 65536 8000\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 -1 8000\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 +80 8000\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 123456 8000\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 10.0.0.2 80 8000\n")] // LF alone
    [InlineData("PROXY TCP4 203.0.113.7\r10.0.0.2 80 8000\r\n")] // a stray CR
    public void An_invalid_v1_header_is_refused_with_a_reason(string line)
    {
        Assert.Equal(ProxyProtocol.Outcome.Invalid, Parse(Encoding.ASCII.GetBytes(line + Request), out ProxyHeader? header, out _, out string? error));
        Assert.Null(header);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void A_v1_header_without_its_end_within_107_bytes_is_refused_before_more_is_read()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("PROXY TCP6 " + new string('1', 200));
        Assert.Equal(ProxyProtocol.Outcome.Invalid, Parse(bytes, out _, out _, out string? error));
        Assert.Contains("107", error, StringComparison.Ordinal);
        // 106 bytes without CRLF may still end in time.
        Assert.Equal(ProxyProtocol.Outcome.NeedMore, Parse(bytes[..106], out _, out _, out _));
        Assert.Equal(ProxyProtocol.Outcome.Invalid, Parse(bytes[..107], out _, out _, out _));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("POST / HTTP/1.1\r\n")]
    [InlineData("PUT / HTTP/1.1\r\n")]
    [InlineData("PROPFIND / HTTP/1.1\r\n")] // shares "PRO" with the v1 prefix
    [InlineData("PROXYX / HTTP/1.1\r\n")]
    [InlineData("\r\nGET / HTTP/1.1\r\n")] // a leading empty line, shares "\r\n" with the v2 signature
    [InlineData("\x16\x03\x01\x02\x00")] // a TLS ClientHello
    public void A_connection_that_starts_with_anything_else_has_no_header(string start)
    {
        Assert.Equal(ProxyProtocol.Outcome.None, Parse(Encoding.Latin1.GetBytes(start), out ProxyHeader? header, out int length, out _));
        Assert.Null(header);
        Assert.Equal(0, length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PROX")]
    [InlineData("PROXY")]
    [InlineData("\r\n\r\n")]
    public void A_prefix_of_either_header_asks_for_more(string start)
    {
        Assert.Equal(ProxyProtocol.Outcome.NeedMore, Parse(Encoding.Latin1.GetBytes(start), out _, out _, out _));
    }

    [Fact]
    public void A_v1_header_split_at_every_byte_is_read_only_when_whole()
    {
        const string line = "PROXY TCP4 203.0.113.7 10.0.0.2 51234 8000\r\n";
        byte[] bytes = Encoding.ASCII.GetBytes(line + Request);
        for (int cut = 0; cut <= bytes.Length; cut++)
        {
            var outcome = ProxyProtocol.TryParse(Fragmented(bytes[..cut]), out ProxyHeader? header, out int length, out string? error);
            if (cut < line.Length)
            {
                Assert.True(outcome == ProxyProtocol.Outcome.NeedMore, $"cut at {cut}: {outcome} {error}");
            }
            else
            {
                Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
                Assert.Equal(line.Length, length);
                Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51234), header!.Source);
            }
        }
    }

    [Fact]
    public void A_v2_ipv4_header_with_tlvs_gives_the_client_and_is_consumed_with_its_tlvs()
    {
        byte[] tlv = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63]; // PP2_TYPE_NOOP with three bytes
        byte[] bytes = [.. V2(0x21, 0x11, [.. Ipv4Block("198.51.100.9", "10.0.0.2", 40000, 443), .. tlv]), .. Encoding.ASCII.GetBytes(Request)];
        Assert.Equal(ProxyProtocol.Outcome.Parsed, Parse(bytes, out ProxyHeader? header, out int length, out _));
        Assert.Equal(16 + 12 + tlv.Length, length);
        Assert.Equal(new ProxyHeader("TCP4", new IPEndPoint(IPAddress.Parse("198.51.100.9"), 40000), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 443)), header);
    }

    [Fact]
    public void A_v2_ipv6_header_gives_the_client()
    {
        byte[] block = [.. IPAddress.Parse("2001:db8::9").GetAddressBytes(), .. IPAddress.Parse("2001:db8::2").GetAddressBytes(), 0x1F, 0x90, 0x00, 0x50];
        Assert.Equal(ProxyProtocol.Outcome.Parsed, Parse(V2(0x21, 0x21, block), out ProxyHeader? header, out int length, out _));
        Assert.Equal(16 + 36, length);
        Assert.Equal(new ProxyHeader("TCP6", new IPEndPoint(IPAddress.Parse("2001:db8::9"), 8080), new IPEndPoint(IPAddress.Parse("2001:db8::2"), 80)), header);
    }

    [Theory]
    [InlineData(0x20, 0x11)] // LOCAL: the proxy's own connection (a health check)
    [InlineData(0x21, 0x00)] // PROXY for an unspecified family
    [InlineData(0x21, 0x31)] // PROXY for a Unix socket address
    public void A_v2_header_without_a_usable_address_is_consumed_and_leaves_the_peer_as_it_is(int versionCommand, int familyProtocol)
    {
        byte[] block = familyProtocol == 0x31 ? new byte[216] : familyProtocol == 0x00 ? [] : Ipv4Block("198.51.100.9", "10.0.0.2", 1, 2);
        Assert.Equal(ProxyProtocol.Outcome.Parsed, Parse(V2(versionCommand, familyProtocol, block), out ProxyHeader? header, out int length, out _));
        Assert.Null(header);
        Assert.Equal(16 + block.Length, length);
    }

    [Theory]
    [InlineData(0x11, 0x11, 12, "version 1")]
    [InlineData(0x22, 0x11, 12, "command 2")]
    [InlineData(0x21, 0x12, 12, "transport 2")] // UDP
    [InlineData(0x21, 0x41, 12, "family 4")]
    [InlineData(0x21, 0x11, 11, "too short")]
    [InlineData(0x21, 0x21, 12, "too short")] // an IPv6 family with an IPv4-sized block
    public void An_invalid_v2_header_is_refused_with_a_reason(int versionCommand, int familyProtocol, int blockLength, string reason)
    {
        byte[] block = new byte[blockLength];
        Assert.Equal(ProxyProtocol.Outcome.Invalid, Parse(V2(versionCommand, familyProtocol, block), out _, out _, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_v2_header_split_at_every_byte_is_read_only_when_whole()
    {
        byte[] header = V2(0x21, 0x11, [.. Ipv4Block("198.51.100.9", "10.0.0.2", 40000, 443), 0x04, 0x00, 0x01, 0x00]);
        byte[] bytes = [.. header, .. Encoding.ASCII.GetBytes(Request)];
        for (int cut = 0; cut <= bytes.Length; cut++)
        {
            var outcome = ProxyProtocol.TryParse(Fragmented(bytes[..cut]), out ProxyHeader? parsed, out int length, out _);
            if (cut < header.Length)
            {
                Assert.True(outcome == ProxyProtocol.Outcome.NeedMore, $"cut at {cut}: {outcome}");
            }
            else
            {
                Assert.Equal(ProxyProtocol.Outcome.Parsed, outcome);
                Assert.Equal(header.Length, length);
                Assert.Equal(40000, parsed!.Source.Port);
            }
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
