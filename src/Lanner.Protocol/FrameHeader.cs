using System.Buffers.Binary;

namespace Lanner.Protocol;

/// <summary>
/// The fixed 10-byte header in front of every frame: u32 payload length, u8 type, u8 flags,
/// u32 stream id, all little-endian (Python: <c>struct.Struct("&lt;IBBI")</c>).
/// </summary>
public readonly record struct FrameHeader(int Length, FrameType Type, FrameFlags Flags, uint StreamId)
{
    public const int Size = 10;

    public bool IsEnd => (Flags & FrameFlags.End) != 0;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Length);
        destination[4] = (byte)Type;
        destination[5] = (byte)Flags;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[6..], StreamId);
    }

    public static void Write(Span<byte> destination, int length, FrameType type, FrameFlags flags, uint streamId) =>
        new FrameHeader(length, type, flags, streamId).Write(destination);
}
