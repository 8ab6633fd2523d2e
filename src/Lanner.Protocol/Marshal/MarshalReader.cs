using System.Buffers.Binary;
using System.Text;

namespace Lanner.Protocol.Marshal;

/// <summary>
/// Decodes the subset of CPython's marshal format that workers send (what <c>marshal.dumps</c>
/// produces for None, bools, ints, floats, str, bytes, tuples, lists and dicts, including
/// back-references). Values come back as <c>null</c>, <see cref="bool"/>, <see cref="long"/>,
/// <see cref="double"/>, <see cref="string"/>, <c>byte[]</c>, <c>object?[]</c> (tuple or list) and
/// <c>Dictionary&lt;string, object?&gt;</c>. Every length is checked against the bytes that remain
/// before anything is allocated; nesting is limited.
/// </summary>
public ref struct MarshalReader
{
    private const int MaxDepth = 32;

    private readonly ReadOnlySpan<byte> _data;
    private int _pos;
    private List<object?>? _refs;

    public MarshalReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
        _refs = null;
    }

    public readonly int Position => _pos;

    /// <summary>Decodes one whole value; trailing bytes are an error.</summary>
    public static object? Decode(ReadOnlySpan<byte> data)
    {
        var reader = new MarshalReader(data);
        object? value = reader.ReadValue();
        if (reader._pos != data.Length)
        {
            throw Malformed($"{data.Length - reader._pos} unexpected trailing bytes");
        }

        return value;
    }

    public object? ReadValue() => Read(0);

    private object? Read(int depth)
    {
        if (depth > MaxDepth)
        {
            throw Malformed("nesting too deep");
        }

        byte code = ReadByte();
        bool flagRef = (code & MarshalCodes.FlagRef) != 0;
        code = (byte)(code & ~MarshalCodes.FlagRef);
        int refIndex = -1;
        if (flagRef && code is MarshalCodes.Tuple or MarshalCodes.SmallTuple or MarshalCodes.List or MarshalCodes.Dict)
        {
            // Containers reserve their slot before their items, as CPython's r_ref_reserve does.
            _refs ??= [];
            refIndex = _refs.Count;
            _refs.Add(null);
        }

        object? value;
        switch (code)
        {
            case MarshalCodes.None:
                value = null;
                break;
            case MarshalCodes.True:
                value = true;
                break;
            case MarshalCodes.False:
                value = false;
                break;
            case MarshalCodes.Int:
                value = (long)ReadInt32();
                break;
            case MarshalCodes.Long:
                value = ReadLong();
                break;
            case MarshalCodes.BinaryFloat:
                value = BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(Take(8)));
                break;
            case MarshalCodes.Bytes:
                value = Take(ReadLength(1)).ToArray();
                break;
            case MarshalCodes.Unicode:
            case MarshalCodes.Interned:
                value = DecodeUtf8(Take(ReadLength(1)));
                break;
            case MarshalCodes.Ascii:
            case MarshalCodes.AsciiInterned:
                value = DecodeAscii(Take(ReadLength(1)));
                break;
            case MarshalCodes.ShortAscii:
            case MarshalCodes.ShortAsciiInterned:
                value = DecodeAscii(Take(ReadByte()));
                break;
            case MarshalCodes.Tuple:
            case MarshalCodes.List:
                value = ReadItems(ReadLength(1), depth);
                break;
            case MarshalCodes.SmallTuple:
                value = ReadItems(ReadByte(), depth);
                break;
            case MarshalCodes.Dict:
                value = ReadDict(depth);
                break;
            case MarshalCodes.Ref:
                int index = ReadInt32();
                if (_refs is null || index < 0 || index >= _refs.Count)
                {
                    throw Malformed($"back-reference {index} to nothing");
                }

                return _refs[index];
            default:
                throw Malformed($"unsupported marshal type code 0x{code:x2}");
        }

        if (flagRef)
        {
            _refs ??= [];
            if (refIndex >= 0)
            {
                _refs[refIndex] = value;
            }
            else
            {
                _refs.Add(value);
            }
        }

        return value;
    }

    private object?[] ReadItems(int count, int depth)
    {
        if (count > _data.Length - _pos)
        {
            throw Malformed($"sequence of {count} items in {_data.Length - _pos} bytes");
        }

        var items = new object?[count];
        for (int i = 0; i < count; i++)
        {
            items[i] = Read(depth + 1);
        }

        return items;
    }

    private Dictionary<string, object?> ReadDict(int depth)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (true)
        {
            if (_pos >= _data.Length)
            {
                throw Malformed("dict without its end marker");
            }

            if (_data[_pos] == MarshalCodes.Null)
            {
                _pos++;
                return dict;
            }

            if (Read(depth + 1) is not string key)
            {
                throw Malformed("dict key that is not a str");
            }

            dict[key] = Read(depth + 1);
        }
    }

    private long ReadLong()
    {
        // CPython long: i32 digit count (sign = sign of value), then 15-bit digits, least significant first.
        int n = ReadInt32();
        int digits = Math.Abs(n);
        if (digits > 4)
        {
            throw Malformed("integer wider than 60 bits");
        }

        long value = 0;
        ReadOnlySpan<byte> raw = Take(digits * 2);
        for (int i = digits - 1; i >= 0; i--)
        {
            value = (value << 15) | BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..]);
        }

        return n < 0 ? -value : value;
    }

    private int ReadLength(int minItemSize)
    {
        int length = ReadInt32();
        if (length < 0 || (long)length * minItemSize > _data.Length - _pos)
        {
            throw Malformed($"length {length} beyond the {_data.Length - _pos} bytes left");
        }

        return length;
    }

    private byte ReadByte()
    {
        if (_pos >= _data.Length)
        {
            throw Malformed("truncated value");
        }

        return _data[_pos++];
    }

    private int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _pos)
        {
            throw Malformed("truncated value");
        }

        ReadOnlySpan<byte> slice = _data.Slice(_pos, count);
        _pos += count;
        return slice;
    }

    private static string DecodeAscii(ReadOnlySpan<byte> bytes)
    {
        if (!System.Text.Ascii.IsValid(bytes))
        {
            throw Malformed("non-ASCII byte in an ASCII string");
        }

        return Encoding.ASCII.GetString(bytes);
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            // CPython writes lone surrogates with "surrogatepass"; they cannot be a valid header or status.
            throw Malformed("string that is not valid UTF-8");
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static ProtocolException Malformed(string what) => new(ProtocolError.MalformedPayload, "marshal: " + what);
}
