using System.Net.Sockets;
using Lanner.Protocol;

namespace Lanner.Workers;

/// <summary>
/// Writes frames to one worker socket. Frames are appended under a short lock; the send itself
/// happens outside every lock, once per <see cref="FlushScope"/> (or at once outside a scope).
/// So the frames a thread writes while handling one burst (several requests dispatched, the
/// next requests after a batch of responses) leave in one send: a wake-up of the worker costs
/// far more than the bytes. Created and disposed by the <see cref="Worker"/> that owns the socket.
/// </summary>
internal sealed class FrameWriter : IThreadPoolWorkItem, IDisposable
{
    private readonly Socket _socket;
    private readonly Action<Exception> _onError;
    private readonly object _sync = new();
    private ByteBuffer _pending = new(16 * 1024);
    private ByteBuffer _sending = new(16 * 1024);

    // Actions to run once the frames queued before them are in the kernel (e.g. signal the worker
    // that a Reclaim frame is there to read).
    private List<Action>? _pendingAfter;
    private List<Action>? _sendingAfter;

    // True while one thread owns flushing (a scope has it registered, a send is under way, or the
    // async loop runs). Whoever sets it sends everything appended until it finds the buffer empty.
    private bool _flushing;
    private bool _closed;

    public FrameWriter(Socket socket, Action<Exception> onError)
    {
        _socket = socket;
        _onError = onError;
    }

    /// <summary>Queues one frame. Returns false when the writer is closed.</summary>
    public bool Write(FrameType type, FrameFlags flags, uint stream, ReadOnlySpan<byte> payload)
    {
        bool flushNow;
        lock (_sync)
        {
            if (_closed)
            {
                return false;
            }

            FrameHeader.Write(_pending.GetSpan(FrameHeader.Size), payload.Length, type, flags, stream);
            _pending.Advance(FrameHeader.Size);
            _pending.Write(payload);
            if (_flushing)
            {
                return true;
            }

            _flushing = true;
            flushNow = !FlushScope.Defer(this);
        }

        if (flushNow)
        {
            Flush();
        }

        return true;
    }

    /// <summary>Queues a frame and runs <paramref name="afterSent"/> once it has been handed to the kernel.</summary>
    public bool Write(FrameType type, FrameFlags flags, uint stream, ReadOnlySpan<byte> payload, Action afterSent)
    {
        lock (_sync)
        {
            if (_closed)
            {
                return false;
            }

            (_pendingAfter ??= []).Add(afterSent);
        }

        return Write(type, flags, stream, payload);
    }

    /// <summary>Queues a frame whose payload is a 4-byte integer.</summary>
    public bool WriteUInt32(FrameType type, uint stream, uint value)
    {
        Span<byte> payload = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload, value);
        return Write(type, FrameFlags.None, stream, payload);
    }

    /// <summary>
    /// Sends what is pending, on this thread, while the socket takes it without blocking; what it
    /// does not take goes out from the async loop. Only the owner of <see cref="_flushing"/> calls this.
    /// </summary>
    internal void Flush()
    {
        while (TryTakeBatch())
        {
            ByteBuffer batch = _sending;
            int sent = _socket.Send(batch.WrittenSpan, SocketFlags.None, out SocketError error);
            if (error is not (SocketError.Success or SocketError.WouldBlock))
            {
                Fail(new SocketException((int)error));
                return;
            }

            batch.Consume(Math.Max(sent, 0));
            if (batch.Length > 0)
            {
                // The worker is not reading fast enough: finish from the async loop.
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }

            RunAfterSent();
        }
    }

    /// <summary>
    /// Makes what is pending the batch to send (with its actions), or, when nothing is pending or
    /// the writer is closed, ends this flush: the next write starts a new one.
    /// </summary>
    private bool TryTakeBatch()
    {
        lock (_sync)
        {
            if (_pending.Length == 0 || _closed)
            {
                _flushing = false;
                return false;
            }

            (_pending, _sending) = (_sending, _pending);
            (_pendingAfter, _sendingAfter) = (_sendingAfter, _pendingAfter);
            return true;
        }
    }

    void IThreadPoolWorkItem.Execute() => _ = FlushAsync();

    private async Task FlushAsync()
    {
        try
        {
            while (true)
            {
                ByteBuffer batch = _sending;
                ReadOnlyMemory<byte> data = batch.WrittenMemory;
                while (!data.IsEmpty)
                {
                    int sent = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
                    data = data[sent..];
                }

                batch.Clear();
                RunAfterSent();
                if (!TryTakeBatch())
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            Fail(ex);
        }
    }

    /// <summary>Runs the actions of the batch just sent (only the flushing thread touches <see cref="_sendingAfter"/>).</summary>
    private void RunAfterSent()
    {
        if (_sendingAfter is { Count: > 0 } actions)
        {
            foreach (Action action in actions)
            {
                action();
            }

            actions.Clear();
        }
    }

    private void Fail(Exception ex)
    {
        lock (_sync)
        {
            _closed = true;
            _flushing = false;
        }

        _onError(ex);
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _closed = true;
            if (!_flushing)
            {
                _pending.Dispose();
                _sending.Dispose();
            }
        }
    }
}

/// <summary>
/// Defers the sends of the frames a thread writes until the scope ends, outside every lock, and
/// sends each writer's frames together. Enter it around synchronous work that may write frames
/// to several workers; nested scopes flush with the outermost.
/// </summary>
public ref struct FlushScope
{
    [ThreadStatic]
    private static List<FrameWriter>? t_deferred;

    [ThreadStatic]
    private static int t_depth;

    private bool _entered;

    public static FlushScope Enter()
    {
        t_depth++;
        return new FlushScope { _entered = true };
    }

    /// <summary>Registers a writer to flush at the end of the current scope; false when there is none.</summary>
    internal static bool Defer(FrameWriter writer)
    {
        if (t_depth == 0)
        {
            return false;
        }

        (t_deferred ??= []).Add(writer);
        return true;
    }

    public void Dispose()
    {
        if (!_entered)
        {
            return;
        }

        _entered = false;
        if (--t_depth > 0 || t_deferred is not { Count: > 0 } writers)
        {
            return;
        }

        // Flushing may run code that writes again (nothing here does, but stay correct): drain in a loop.
        while (writers.Count > 0)
        {
            FrameWriter writer = writers[^1];
            writers.RemoveAt(writers.Count - 1);
            writer.Flush();
        }
    }
}
