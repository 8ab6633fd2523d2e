using System.Buffers.Binary;
using System.Text;

namespace Lanner.Protocol.Marshal;

/// <summary>
/// Writes values in CPython's marshal format straight into a <see cref="ByteBuffer"/>.
/// Strings are written without the ref flag, so every value stands alone and the output is
/// byte-for-byte predictable (the golden vectors rely on it).
/// </summary>
public static class MarshalWriter
{
    public static void DictStart(ByteBuffer buffer) => buffer.WriteByte(MarshalCodes.Dict);

    public static void DictEnd(ByteBuffer buffer) => buffer.WriteByte(MarshalCodes.Null);

    public static void None(ByteBuffer buffer) => buffer.WriteByte(MarshalCodes.None);

    public static void Bool(ByteBuffer buffer, bool value) => buffer.WriteByte(value ? MarshalCodes.True : MarshalCodes.False);

    public static void Int(ByteBuffer buffer, int value)
    {
        Span<byte> span = buffer.GetSpan(5);
        span[0] = MarshalCodes.Int;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], value);
        buffer.Advance(5);
    }

    /// <summary>Writes a str whose characters are all ASCII, given as its bytes.</summary>
    public static void AsciiString(ByteBuffer buffer, ReadOnlySpan<byte> ascii)
    {
        if (ascii.Length < 256)
        {
            Span<byte> span = buffer.GetSpan(2 + ascii.Length);
            span[0] = MarshalCodes.ShortAscii;
            span[1] = (byte)ascii.Length;
            ascii.CopyTo(span[2..]);
            buffer.Advance(2 + ascii.Length);
        }
        else
        {
            Span<byte> span = buffer.GetSpan(5 + ascii.Length);
            span[0] = MarshalCodes.Ascii;
            BinaryPrimitives.WriteInt32LittleEndian(span[1..], ascii.Length);
            ascii.CopyTo(span[5..]);
            buffer.Advance(5 + ascii.Length);
        }
    }

    /// <summary>
    /// Writes a str made of the given bytes read as latin-1 — the WSGI rule for paths and header
    /// values ("native strings" holding the raw bytes). Bytes ≥ 0x80 become two UTF-8 bytes on the wire.
    /// </summary>
    public static void Latin1String(ByteBuffer buffer, ReadOnlySpan<byte> latin1)
    {
        int high = CountHighBytes(latin1);
        if (high == 0)
        {
            AsciiString(buffer, latin1);
            return;
        }

        int utf8Length = latin1.Length + high;
        Span<byte> span = buffer.GetSpan(5 + utf8Length);
        span[0] = MarshalCodes.Unicode;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], utf8Length);
        int o = 5;
        foreach (byte b in latin1)
        {
            if (b < 0x80)
            {
                span[o++] = b;
            }
            else
            {
                span[o++] = (byte)(0xC0 | (b >> 6));
                span[o++] = (byte)(0x80 | (b & 0x3F));
            }
        }

        buffer.Advance(5 + utf8Length);
    }

    /// <summary>Writes a .NET string as a Python str (any characters).</summary>
    public static void String(ByteBuffer buffer, string value)
    {
        if (System.Text.Ascii.IsValid(value))
        {
            Span<byte> scratch = value.Length <= 256 ? stackalloc byte[value.Length] : new byte[value.Length];
            System.Text.Ascii.FromUtf16(value, scratch, out _);
            AsciiString(buffer, scratch);
            return;
        }

        int utf8Length = Encoding.UTF8.GetByteCount(value);
        Span<byte> span = buffer.GetSpan(5 + utf8Length);
        span[0] = MarshalCodes.Unicode;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], utf8Length);
        Encoding.UTF8.GetBytes(value, span[5..]);
        buffer.Advance(5 + utf8Length);
    }

    /// <summary>Writes a .NET string whose characters are all ≤ U+00FF (a latin-1 "native string").</summary>
    public static void Latin1String(ByteBuffer buffer, string value)
    {
        if (System.Text.Ascii.IsValid(value))
        {
            String(buffer, value);
            return;
        }

        Span<byte> bytes = value.Length <= 512 ? stackalloc byte[value.Length] : new byte[value.Length];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            bytes[i] = c <= '\u00ff' ? (byte)c : (byte)'?';
        }

        Latin1String(buffer, bytes);
    }

    public static void Bytes(ByteBuffer buffer, ReadOnlySpan<byte> value)
    {
        Span<byte> span = buffer.GetSpan(5 + value.Length);
        span[0] = MarshalCodes.Bytes;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], value.Length);
        value.CopyTo(span[5..]);
        buffer.Advance(5 + value.Length);
    }

    /// <summary>Writes any value of the supported shapes (used for small control messages, not the hot path).</summary>
    public static void Value(ByteBuffer buffer, object? value)
    {
        switch (value)
        {
            case null:
                None(buffer);
                break;
            case bool b:
                Bool(buffer, b);
                break;
            case int i:
                Int(buffer, i);
                break;
            case long l when l is >= int.MinValue and <= int.MaxValue:
                Int(buffer, (int)l);
                break;
            case string s:
                String(buffer, s);
                break;
            case byte[] bytes:
                Bytes(buffer, bytes);
                break;
            case IReadOnlyDictionary<string, object?> dict:
                DictStart(buffer);
                foreach (var (k, v) in dict)
                {
                    String(buffer, k);
                    Value(buffer, v);
                }

                DictEnd(buffer);
                break;
            case IReadOnlyList<object?> list:
                Span<byte> span = buffer.GetSpan(5);
                span[0] = MarshalCodes.List;
                BinaryPrimitives.WriteInt32LittleEndian(span[1..], list.Count);
                buffer.Advance(5);
                foreach (object? item in list)
                {
                    Value(buffer, item);
                }

                break;
            default:
                throw new ArgumentException($"cannot marshal a value of type {value.GetType().Name}", nameof(value));
        }
    }

    private static int CountHighBytes(ReadOnlySpan<byte> bytes)
    {
        int index = bytes.IndexOfAnyInRange((byte)0x80, (byte)0xFF);
        if (index < 0)
        {
            return 0;
        }

        int count = 0;
        foreach (byte b in bytes[index..])
        {
            if (b >= 0x80)
            {
                count++;
            }
        }

        return count;
    }
}
