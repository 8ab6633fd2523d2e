namespace Lanner.Protocol.Tests;

public class FrameParserTests
{
    private static byte[] Frame(FrameType type, FrameFlags flags, uint stream, byte[] payload)
    {
        byte[] bytes = new byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(bytes, payload.Length, type, flags, stream);
        payload.CopyTo(bytes, FrameHeader.Size);
        return bytes;
    }

    [Fact]
    public void TryReadHeader_SplitAtEveryByte_ReassemblesTheSameFrames()
    {
        // Three frames back to back, fed in two pieces split at every possible byte.
        byte[] stream = [
            .. Frame(FrameType.Response, FrameFlags.None, 1, [1, 2, 3, 4, 5]),
            .. Frame(FrameType.ResponseBody, FrameFlags.End, 1, []),
            .. Frame(FrameType.Log, FrameFlags.None, 0, [4, (byte)'h', (byte)'i']),
        ];

        for (int split = 0; split <= stream.Length; split++)
        {
            var frames = new List<(FrameHeader Header, byte[] Payload)>();
            var buffer = new List<byte>();
            foreach (byte[] piece in new[] { stream[..split], stream[split..] })
            {
                buffer.AddRange(piece);
                while (true)
                {
                    byte[] current = [.. buffer];
                    if (!FrameParser.TryReadHeader(current, FrameDirection.WorkerToMaster, 1024, out FrameHeader header)
                        || current.Length < FrameHeader.Size + header.Length)
                    {
                        break;
                    }

                    frames.Add((header, current[FrameHeader.Size..(FrameHeader.Size + header.Length)]));
                    buffer.RemoveRange(0, FrameHeader.Size + header.Length);
                }
            }

            Assert.Equal(3, frames.Count);
            Assert.Equal([1, 2, 3, 4, 5], frames[0].Payload);
            Assert.Equal(FrameType.ResponseBody, frames[1].Header.Type);
            Assert.True(frames[1].Header.IsEnd);
            Assert.Empty(frames[1].Payload);
            Assert.Equal(FrameType.Log, frames[2].Header.Type);
            Assert.Empty(buffer);
        }
    }

    [Fact]
    public void TryReadHeader_FewerThanTenBytes_ReturnsFalse()
    {
        byte[] frame = Frame(FrameType.Ready, FrameFlags.None, 0, []);

        Assert.False(FrameParser.TryReadHeader(frame.AsSpan(0, FrameHeader.Size - 1), FrameDirection.WorkerToMaster, 1024, out _));
    }

    [Fact]
    public void TryReadHeader_OversizedLength_IsRejectedFromTheHeaderAlone()
    {
        // Only the 10 header bytes exist: the announced 4 GiB payload is refused before any allocation.
        byte[] header = [0xff, 0xff, 0xff, 0xff, (byte)FrameType.Response, 0, 1, 0, 0, 0];

        var ex = Assert.Throws<ProtocolException>(() => FrameParser.TryReadHeader(header, FrameDirection.WorkerToMaster, 1024, out _));
        Assert.Equal(ProtocolError.FrameTooLarge, ex.Error);
    }

    [Fact]
    public void TryReadHeader_LengthAtTheLimit_IsAccepted()
    {
        byte[] header = new byte[FrameHeader.Size];
        FrameHeader.Write(header, 1024, FrameType.Response, FrameFlags.None, 1);

        Assert.True(FrameParser.TryReadHeader(header, FrameDirection.WorkerToMaster, 1024, out FrameHeader parsed));
        Assert.Equal(1024, parsed.Length);
    }

    [Fact]
    public void TryReadHeader_OneBytePastTheLimit_IsRejected()
    {
        byte[] header = new byte[FrameHeader.Size];
        FrameHeader.Write(header, 1025, FrameType.Response, FrameFlags.None, 1);

        Assert.Equal(ProtocolError.FrameTooLarge,
            Assert.Throws<ProtocolException>(() => FrameParser.TryReadHeader(header, FrameDirection.WorkerToMaster, 1024, out _)).Error);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x7f)]
    [InlineData(0xff)]
    public void TryReadHeader_UnknownType_IsRejected(byte type)
    {
        byte[] header = [0, 0, 0, 0, type, 0, 0, 0, 0, 0];

        Assert.Equal(ProtocolError.UnknownFrameType,
            Assert.Throws<ProtocolException>(() => FrameParser.TryReadHeader(header, FrameDirection.WorkerToMaster, 1024, out _)).Error);
    }

    [Fact]
    public void TryReadHeader_MasterFrameFromAWorker_IsRejected()
    {
        byte[] header = Frame(FrameType.Request, FrameFlags.None, 1, []);

        Assert.Equal(ProtocolError.WrongDirection,
            Assert.Throws<ProtocolException>(() => FrameParser.TryReadHeader(header, FrameDirection.WorkerToMaster, 1024, out _)).Error);
    }

    [Fact]
    public void TryReadHeader_UndefinedFlag_IsRejected()
    {
        byte[] header = Frame(FrameType.Response, (FrameFlags)0x02, 1, []);

        Assert.Equal(ProtocolError.UnknownFlags,
            Assert.Throws<ProtocolException>(() => FrameParser.TryReadHeader(header, FrameDirection.WorkerToMaster, 1024, out _)).Error);
    }
}
