namespace Lanner.Protocol;

/// <summary>Which side is reading: the master accepts worker→master types only, and the reverse.</summary>
public enum FrameDirection
{
    WorkerToMaster,
    MasterToWorker,
}

/// <summary>
/// Splits a byte stream into frames. The header is validated (type, direction, flags, size) before
/// the caller allocates or waits for any payload, so an oversized or malformed frame costs nothing.
/// </summary>
public static class FrameParser
{
    /// <summary>Default cap on one frame's payload: 16 MiB. Bodies travel in many smaller frames.</summary>
    public const int DefaultMaxPayload = 16 * 1024 * 1024;

    /// <summary>
    /// Reads the header at the start of <paramref name="buffer"/>. Returns false when fewer than
    /// <see cref="FrameHeader.Size"/> bytes are there; throws <see cref="ProtocolException"/> for a bad header.
    /// A true result does not mean the payload is complete: compare <c>header.Length</c> with what follows.
    /// </summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> buffer, FrameDirection direction, int maxPayload, out FrameHeader header)
    {
        if (buffer.Length < FrameHeader.Size)
        {
            header = default;
            return false;
        }

        uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buffer);
        var type = (FrameType)buffer[4];
        var flags = (FrameFlags)buffer[5];
        uint stream = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buffer[6..]);

        if (length > (uint)maxPayload)
        {
            throw new ProtocolException(ProtocolError.FrameTooLarge,
                $"frame of type 0x{(byte)type:x2} announces {length} bytes, more than the {maxPayload} allowed");
        }

        if (!Enum.IsDefined(type))
        {
            throw new ProtocolException(ProtocolError.UnknownFrameType, $"unknown frame type 0x{(byte)type:x2}");
        }

        bool fromMaster = (byte)type >= 0x80;
        if (fromMaster != (direction == FrameDirection.MasterToWorker))
        {
            throw new ProtocolException(ProtocolError.WrongDirection, $"frame type {type} cannot be sent by this side");
        }

        if ((flags & ~FrameFlags.End) != 0)
        {
            throw new ProtocolException(ProtocolError.UnknownFlags, $"frame type {type} has unknown flags 0x{(byte)flags:x2}");
        }

        header = new FrameHeader((int)length, type, flags, stream);
        return true;
    }
}
