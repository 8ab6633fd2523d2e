using System.Threading.Tasks.Sources;
using Lanner.Protocol;

namespace Lanner.Workers;

/// <summary>
/// One request's trip through the pool. The front creates it with the encoded request, dispatch
/// hands it to a worker (or back to the queue), the worker connection posts response events, and
/// the front consumes them. The front owns it and disposes it when the response is written.
/// </summary>
/// <remarks>
/// Events flow one way, from one producer (the connection of the worker it is assigned to) to one
/// consumer (the request's task). Exactly one terminal event is ever posted; later posts are
/// ignored and their buffers returned.
/// </remarks>
public sealed class Exchange : IValueTaskSource, IDisposable
{
    /// <summary>Response bytes that may wait for a slow client before the worker connection stops reading.</summary>
    internal const int MaxQueuedBytes = 1024 * 1024;

    private readonly object _sync = new();
    private readonly Queue<ResponseEvent> _events = new();
    // Inline: the response is written on the thread that read it from the worker (no thread hop;
    // measured +15% requests/s on hello-world on 2 cores, where every wake-up costs a context switch).
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = false };
    private bool _waiting;
    private bool _terminal;
    private long _queuedBytes;
    private TaskCompletionSource? _roomWaiter;

    public Exchange(ByteBuffer requestPayload, bool requestBodyComplete, IRequestBodySource? body, string method, string target)
    {
        RequestPayload = requestPayload;
        RequestBodyComplete = requestBodyComplete;
        Body = body;
        Method = method;
        Target = target;
    }

    /// <summary>The Request frame payload: u32 head length, marshal environ, inline body bytes.</summary>
    public ByteBuffer RequestPayload { get; }

    public bool RequestBodyComplete { get; }

    public IRequestBodySource? Body { get; }

    public string Method { get; }

    public string Target { get; }

    /// <summary>"GET /path?query", for log lines.</summary>
    public string RequestLine => Method + " " + Target;

    /// <summary>Timestamp (of the dispatcher's TimeProvider) when it entered dispatch.</summary>
    public long ArrivedAt { get; set; }

    /// <summary>The worker it is assigned to, or null while it waits in the queue. Set under the dispatcher's lock.</summary>
    public IWorkerHandle? Worker { get; internal set; }

    /// <summary>Stream id on its worker's connection; valid while <see cref="Worker"/> is set.</summary>
    internal uint StreamId { get; set; }

    /// <summary>
    /// Timestamp when the request (probably) started running on its worker: when it was sent to a
    /// worker with a free thread, or when the request ahead of it finished. 0 while queued.
    /// </summary>
    internal long StartedAt { get; set; }

    /// <summary>True once the worker sent the response head (the request certainly started).</summary>
    internal bool HeadReceived { get; set; }

    /// <summary>True once the client went away.</summary>
    public bool ClientAborted { get; private set; }

    /// <summary>True once a terminal event was posted.</summary>
    public bool IsFinished
    {
        get
        {
            lock (_sync)
            {
                return _terminal;
            }
        }
    }

    internal void MarkClientAborted() => ClientAborted = true;

    // ---- producer side ---------------------------------------------------------------------

    /// <summary>Posts an event. Returns false (and frees its buffer) when the exchange already ended.</summary>
    internal bool Post(in ResponseEvent ev)
    {
        bool wake;
        lock (_sync)
        {
            if (_terminal)
            {
                ev.ReturnBuffer();
                return false;
            }

            _events.Enqueue(ev);
            _queuedBytes += ev.Length;
            _terminal = ev.IsTerminal;
            wake = _waiting;
            _waiting = false;
        }

        if (wake)
        {
            _signal.SetResult(true);
        }

        return true;
    }

    /// <summary>Ends the exchange with a server-side failure (no-op when it already ended).</summary>
    public bool Fail(ExchangeFailure failure, string? detail = null) =>
        Post(new ResponseEvent(ResponseEventKind.Failed, null, 0, End: true, failure, detail));

    /// <summary>True when the consumer has fallen so far behind that the producer should wait.</summary>
    internal bool IsBackedUp
    {
        get
        {
            lock (_sync)
            {
                return _queuedBytes > MaxQueuedBytes && !_terminal;
            }
        }
    }

    /// <summary>Completes when the queued bytes fall below the limit (or the exchange ends).</summary>
    internal Task WaitForRoomAsync()
    {
        lock (_sync)
        {
            if (_queuedBytes <= MaxQueuedBytes / 2 || ClientAborted)
            {
                return Task.CompletedTask;
            }

            _roomWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _roomWaiter.Task;
        }
    }

    // ---- consumer side ---------------------------------------------------------------------

    public bool TryRead(out ResponseEvent ev)
    {
        TaskCompletionSource? room = null;
        lock (_sync)
        {
            if (!_events.TryDequeue(out ev))
            {
                return false;
            }

            _queuedBytes -= ev.Length;
            if (_roomWaiter is not null && _queuedBytes <= MaxQueuedBytes / 2)
            {
                room = _roomWaiter;
                _roomWaiter = null;
            }
        }

        room?.TrySetResult();
        return true;
    }

    /// <summary>Completes when an event can be read.</summary>
    public ValueTask WaitAsync()
    {
        lock (_sync)
        {
            if (_events.Count > 0)
            {
                return ValueTask.CompletedTask;
            }

            _signal.Reset();
            _waiting = true;
            return new ValueTask(this, _signal.Version);
        }
    }

    /// <summary>Called by the consumer when the client went away: unblocks a producer waiting for room.</summary>
    public void ReleaseRoomWaiters()
    {
        TaskCompletionSource? room;
        lock (_sync)
        {
            room = _roomWaiter;
            _roomWaiter = null;
        }

        room?.TrySetResult();
    }

    void IValueTaskSource.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        lock (_sync)
        {
            _terminal = true;
            while (_events.TryDequeue(out ResponseEvent ev))
            {
                ev.ReturnBuffer();
            }
        }

        RequestPayload.Dispose();
    }
}
