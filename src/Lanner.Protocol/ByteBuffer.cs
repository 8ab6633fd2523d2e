using System.Buffers;
using System.Buffers.Binary;

namespace Lanner.Protocol;

/// <summary>
/// A growable byte buffer on pooled arrays, used to build frames. Not thread-safe.
/// Whoever creates one disposes it (returning the array to the pool).
/// </summary>
public sealed class ByteBuffer : IDisposable
{
    private byte[] _array;
    private int _length;

    public ByteBuffer(int initialCapacity = 1024)
    {
        _array = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _length);

    public void Clear() => _length = 0;

    /// <summary>Drops the first <paramref name="count"/> bytes (they were sent).</summary>
    public void Consume(int count)
    {
        if (count >= _length)
        {
            _length = 0;
            return;
        }

        Buffer.BlockCopy(_array, count, _array, 0, _length - count);
        _length -= count;
    }

    /// <summary>Returns a span of at least <paramref name="sizeHint"/> bytes at the end; call <see cref="Advance"/> after writing.</summary>
    public Span<byte> GetSpan(int sizeHint)
    {
        EnsureCapacity(sizeHint);
        return _array.AsSpan(_length);
    }

    public void Advance(int count) => _length += count;

    public void WriteByte(byte value)
    {
        EnsureCapacity(1);
        _array[_length++] = value;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        EnsureCapacity(bytes.Length);
        bytes.CopyTo(_array.AsSpan(_length));
        _length += bytes.Length;
    }

    public void WriteInt32LittleEndian(int value)
    {
        EnsureCapacity(4);
        BinaryPrimitives.WriteInt32LittleEndian(_array.AsSpan(_length), value);
        _length += 4;
    }

    /// <summary>Reserves <paramref name="count"/> bytes to be filled in later through <see cref="Patch"/>; returns their offset.</summary>
    public int Reserve(int count)
    {
        EnsureCapacity(count);
        int at = _length;
        _length += count;
        return at;
    }

    public Span<byte> Patch(int offset, int count) => _array.AsSpan(offset, count);

    private void EnsureCapacity(int extra)
    {
        if (_array.Length - _length >= extra)
        {
            return;
        }

        int wanted = Math.Max(_array.Length * 2, _length + extra);
        byte[] bigger = ArrayPool<byte>.Shared.Rent(wanted);
        _array.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }

    public void Dispose()
    {
        byte[] array = _array;
        _array = [];
        _length = 0;
        if (array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
