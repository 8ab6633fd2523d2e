using Lanner.Protocol.Marshal;

namespace Lanner.Protocol.Tests;

public class MarshalTests
{
    [Fact]
    public void Latin1String_HighBytes_BecomeTwoByteUtf8()
    {
        using var buffer = new ByteBuffer();
        MarshalWriter.Latin1String(buffer, [(byte)'/', 0xC3, 0xA9]);

        // 'u', length 5, "/" + U+00C3 + U+00A9 in UTF-8
        Assert.Equal("7505000000" + "2f" + "c383" + "c2a9", Convert.ToHexString(buffer.WrittenSpan).ToLowerInvariant());
        Assert.Equal("/\u00c3\u00a9", MarshalReader.Decode(buffer.WrittenSpan));
    }

    [Theory]
    [InlineData("")]
    [InlineData("7b")] // dict without its end
    [InlineData("7a05616263")] // short string claiming 5 bytes, 3 present
    [InlineData("5bffffff7f")] // list of 2^31-1 items in 0 bytes
    [InlineData("720000000000")] // back-reference to nothing
    [InlineData("7a0161ff")] // trailing byte
    [InlineData("63")] // code objects are not accepted
    public void Decode_Malformed_ThrowsProtocolException(string hex)
    {
        var ex = Assert.Throws<ProtocolException>(() => MarshalReader.Decode(Convert.FromHexString(hex)));
        Assert.Equal(ProtocolError.MalformedPayload, ex.Error);
    }

    [Fact]
    public void Decode_DeepNesting_IsRefused()
    {
        byte[] nested = [.. Enumerable.Repeat((byte)')', 40).SelectMany(b => new byte[] { b, 1 }), (byte)'N'];

        Assert.Throws<ProtocolException>(() => MarshalReader.Decode(nested));
    }

    [Fact]
    public void Decode_LongIntegers_ReadFifteenBitDigits()
    {
        // marshal.dumps(2**40) == b'l\x03\x00\x00\x00\x00\x00\x00\x00\x00\x04'  (digits 0, 0, 1024)
        Assert.Equal(1L << 40, MarshalReader.Decode(Convert.FromHexString("6c03000000000000000004")));
    }

    [Fact]
    public void ResponseHead_WrongShapes_GiveAProblemNotAnException()
    {
        using var buffer = new ByteBuffer();
        MarshalWriter.Value(buffer, new object?[] { "200 OK", new object?[] { new object?[] { "X-Count", 3 } } });

        Assert.False(ResponseHead.TryDecode(buffer.WrittenSpan, out _, out string? problem));
        Assert.Equal("header 'X-Count' value must be a str, not int", problem);
    }

    [Fact]
    public void Value_RoundTripsControlMessages()
    {
        using var buffer = new ByteBuffer();
        var config = new Dictionary<string, object?> { ["app"] = "a:b", ["threads"] = 4, ["chdir"] = null, ["pythonpath"] = new List<object?> { "/x" } };
        MarshalWriter.Value(buffer, config);

        var back = (Dictionary<string, object?>)MarshalReader.Decode(buffer.WrittenSpan)!;
        Assert.Equal("a:b", back["app"]);
        Assert.Equal(4L, back["threads"]);
        Assert.Null(back["chdir"]);
        Assert.Equal(new object?[] { "/x" }, (object?[])back["pythonpath"]!);
    }
}
