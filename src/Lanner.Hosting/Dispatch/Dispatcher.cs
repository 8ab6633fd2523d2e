using Lanner.Workers;

namespace Lanner.Hosting.Dispatch;

/// <summary>
/// Admission and placement of requests. Rules, in order: an idle worker first; when all are busy,
/// a short pipeline behind a worker whose requests are fast; otherwise the master's bounded FIFO
/// queue. Requests pipelined behind a request that turns out slow are reclaimed as soon as
/// another worker is free, so no request waits behind a slow one while a worker idles.
/// Created by the host; one per server. Thread-safe: one lock, taken before any worker's lock.
/// </summary>
public sealed class Dispatcher : IWorkerEvents, IDisposable
{
    private readonly DispatchOptions _options;
    private readonly TimeProvider _time;
    private readonly object _sync = new();
    private readonly List<IWorkerHandle> _workers = [];
    private readonly LinkedList<Exchange> _queue = new();
    private readonly ITimer _timer;
    private bool _timerArmed;
    private long _timerArmedAt;
    private TimeSpan _timerDue;
    private bool _stopping;
    private string? _noWorkers;
    private int _rotate;

    public Dispatcher(DispatchOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _timer = time.CreateTimer(_ => OnTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Called (outside the lock) when a request was queued while no worker accepts requests.</summary>
    public Action? RequestsWaiting { get; set; }

    /// <summary>Requests waiting for a worker.</summary>
    public int QueueLength
    {
        get
        {
            lock (_sync)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Requests waiting for a thread: in the queue or queued on busy workers.</summary>
    public int WaitingCount
    {
        get
        {
            lock (_sync)
            {
                return WaitingLocked();
            }
        }
    }

    /// <summary>Places the request on a worker or in the queue; fails it at once when the queue is full.</summary>
    public void Dispatch(Exchange exchange)
    {
        using FlushScope sends = FlushScope.Enter();
        bool unserved;
        lock (_sync)
        {
            exchange.ArrivedAt = _time.GetTimestamp();
            if (_stopping)
            {
                exchange.Fail(ExchangeFailure.ShuttingDown);
                return;
            }

            if (_queue.Count == 0 && TrySendLocked(exchange))
            {
                return;
            }

            if (_noWorkers is not null)
            {
                exchange.Fail(ExchangeFailure.NoWorkers, _noWorkers);
                return;
            }

            int waiting = WaitingLocked();
            if (waiting >= _options.MaxQueue)
            {
                exchange.Fail(ExchangeFailure.QueueFull, $"{waiting} requests already wait for a worker");
                return;
            }

            _queue.AddLast(exchange);
            ArmTimerLocked();
            unserved = !_workers.Exists(w => w.IsAccepting);
        }

        if (unserved)
        {
            RequestsWaiting?.Invoke();
        }
    }

    /// <summary>The client went away: drop the request if it still waits, or tell its worker.</summary>
    public void Abort(Exchange exchange)
    {
        using FlushScope sends = FlushScope.Enter();
        IWorkerHandle? worker;
        lock (_sync)
        {
            if (_queue.Remove(exchange))
            {
                exchange.MarkClientAborted();
                exchange.Fail(ExchangeFailure.ShuttingDown, "the client went away while the request waited");
                return;
            }

            worker = exchange.Worker;
        }

        worker?.Abort(exchange);
    }

    /// <summary>Refuses new requests and fails the waiting ones (the server is stopping for good).</summary>
    public void Stop()
    {
        List<Exchange> waiting;
        lock (_sync)
        {
            _stopping = true;
            waiting = [.. _queue];
            _queue.Clear();
        }

        foreach (Exchange ex in waiting)
        {
            ex.Fail(ExchangeFailure.ShuttingDown);
        }
    }

    // ---- IWorkerEvents -------------------------------------------------------------------------

    public void WorkerAvailable(IWorkerHandle worker)
    {
        using FlushScope sends = FlushScope.Enter();
        lock (_sync)
        {
            _noWorkers = null;
            if (!_workers.Contains(worker))
            {
                _workers.Add(worker);
            }

            while (_queue.First is { } first && HasRoomLocked(worker))
            {
                if (!worker.TrySend(first.Value))
                {
                    break;
                }

                _queue.RemoveFirst();
            }

            if (_queue.Count == 0 && worker.InFlight < worker.Concurrency)
            {
                ReclaimFromSlowLocked();
                ArmTimerLocked();
            }
        }
    }

    public void WorkerUnavailable(IWorkerHandle worker)
    {
        lock (_sync)
        {
            _workers.Remove(worker);
        }
    }

    public void Requeue(IReadOnlyList<Exchange> exchanges)
    {
        using FlushScope sends = FlushScope.Enter();
        bool unserved;
        lock (_sync)
        {
            // First in line again, in their original order.
            for (int i = exchanges.Count - 1; i >= 0; i--)
            {
                Exchange ex = exchanges[i];
                if (ex.ClientAborted)
                {
                    ex.Fail(ExchangeFailure.ShuttingDown, "the client went away");
                    continue;
                }

                if (_stopping)
                {
                    ex.Fail(ExchangeFailure.ShuttingDown);
                    continue;
                }

                if (_time.GetElapsedTime(ex.ArrivedAt) > _options.QueueTimeout)
                {
                    ex.Fail(ExchangeFailure.QueueTimeout, $"no worker was free within {_options.QueueTimeout.TotalSeconds:0.###} s");
                    continue;
                }

                _queue.AddFirst(ex);
            }

            DrainQueueLocked();
            ArmTimerLocked();
            unserved = _queue.Count > 0 && !_workers.Exists(w => w.IsAccepting);
        }

        if (unserved)
        {
            RequestsWaiting?.Invoke();
        }
    }

    /// <inheritdoc/>
    public bool HasWaitingRequests
    {
        get
        {
            lock (_sync)
            {
                return _queue.Count > 0;
            }
        }
    }

    public void NoWorkersAlive(string reason)
    {
        List<Exchange> waiting;
        lock (_sync)
        {
            if (_workers.Exists(w => w.IsAccepting))
            {
                return;
            }

            _noWorkers = reason;
            waiting = [.. _queue];
            _queue.Clear();
        }

        foreach (Exchange ex in waiting)
        {
            ex.Fail(ExchangeFailure.NoWorkers, reason);
        }
    }

    // ---- placement -----------------------------------------------------------------------------

    private bool TrySendLocked(Exchange exchange)
    {
        // A worker may refuse (it just started draining); try the next best.
        for (int attempt = 0; attempt < _workers.Count; attempt++)
        {
            IWorkerHandle? worker = PickLocked();
            if (worker is null)
            {
                return false;
            }

            if (worker.InFlight >= worker.Concurrency && WaitingLocked() >= _options.MaxQueue)
            {
                return false; // pipelined requests wait too: they count against --max-queue
            }

            if (worker.TrySend(exchange))
            {
                if (worker.InFlight > worker.Concurrency)
                {
                    ArmTimerLocked(); // it waits on the worker: it has a deadline
                }

                return true;
            }

            _workers.Remove(worker);
        }

        return false;
    }

    /// <summary>
    /// The idle worker with most room; else the least loaded fast worker with pipeline room; else
    /// null. Workers about to be replaced come last, so they serve only when the others are full.
    /// </summary>
    private IWorkerHandle? PickLocked()
    {
        int count = _workers.Count;
        if (count == 0)
        {
            return null;
        }

        _rotate = (_rotate + 1) % count;
        return PickLocked(retiring: false) ?? PickLocked(retiring: true);
    }

    private IWorkerHandle? PickLocked(bool retiring)
    {
        int count = _workers.Count;
        IWorkerHandle? best = null;
        int bestFree = 0;
        for (int i = 0; i < count; i++)
        {
            IWorkerHandle w = _workers[(_rotate + i) % count];
            int free = w.Concurrency - w.InFlight;
            if (free > bestFree && w.Retiring == retiring && w.IsAccepting)
            {
                best = w;
                bestFree = free;
            }
        }

        if (best is not null)
        {
            return best;
        }

        int bestLoad = int.MaxValue;
        for (int i = 0; i < count; i++)
        {
            IWorkerHandle w = _workers[(_rotate + i) % count];
            if (w.Retiring == retiring && w.InFlight < bestLoad && CanPipelineLocked(w))
            {
                best = w;
                bestLoad = w.InFlight;
            }
        }

        return best;
    }

    /// <summary>Requests waiting for a thread: in the master's queue, or queued on a busy worker.</summary>
    private int WaitingLocked()
    {
        int waiting = _queue.Count;
        foreach (IWorkerHandle w in _workers)
        {
            waiting += Math.Max(0, w.InFlight - w.Concurrency);
        }

        return waiting;
    }

    private bool HasRoomLocked(IWorkerHandle w) => w.IsAccepting && (w.InFlight < w.Concurrency || CanPipelineLocked(w));

    private bool CanPipelineLocked(IWorkerHandle w)
    {
        if (!w.IsAccepting || w.InFlight >= w.Concurrency * (1 + _options.PipelineDepth))
        {
            return false;
        }

        long service = w.ServiceTicks;
        if (service > _time.TimestampFrequency * _options.PipelineBelow.TotalSeconds)
        {
            return false;
        }

        return !IsSlowLocked(w);
    }

    /// <summary>True when the worker's current request has run long enough to hold up what is queued behind it.</summary>
    private bool IsSlowLocked(IWorkerHandle w)
    {
        long since = w.BusySince;
        if (since == 0)
        {
            return false;
        }

        return _time.GetElapsedTime(since) >= SlowThreshold(w);
    }

    /// <summary>How long a worker's current request may run before what waits behind it is reclaimed.</summary>
    private TimeSpan SlowThreshold(IWorkerHandle w)
    {
        TimeSpan usual = TimeSpan.FromSeconds(4.0 * w.ServiceTicks / _time.TimestampFrequency);
        return usual > _options.ReclaimAfter ? usual : _options.ReclaimAfter;
    }

    private void DrainQueueLocked()
    {
        while (_queue.First is { } first)
        {
            if (!TrySendLocked(first.Value))
            {
                return;
            }

            _queue.RemoveFirst();
        }
    }

    /// <summary>Asks workers stuck on a slow request to hand back what waits behind it, if any worker has room.</summary>
    private bool ReclaimFromSlowLocked()
    {
        bool anyRoom = false;
        foreach (IWorkerHandle w in _workers)
        {
            if (w.IsAccepting && w.InFlight < w.Concurrency)
            {
                anyRoom = true;
                break;
            }
        }

        bool pipelined = false;
        foreach (IWorkerHandle w in _workers)
        {
            if (w.IsAccepting && w.InFlight > w.Concurrency)
            {
                pipelined = true;
                if (anyRoom && IsSlowLocked(w))
                {
                    w.RequestReclaim();
                }
            }
        }

        return pipelined;
    }

    // ---- timer: queue deadlines and slow-worker checks -------------------------------------------

    /// <summary>
    /// Arms the timer for the next moment something may need doing: the queue head's deadline, or
    /// (only while a worker has room and another holds pipelined requests) the moment the request
    /// those wait behind counts as slow. Under full load neither applies and the timer stays quiet.
    /// </summary>
    private void ArmTimerLocked()
    {
        long now = _time.GetTimestamp();
        TimeSpan? due = null;
        if (_queue.First is { } head)
        {
            due = _options.QueueTimeout - _time.GetElapsedTime(head.Value.ArrivedAt, now);
        }

        foreach (IWorkerHandle w in _workers)
        {
            // Requests queued on a worker have the same deadline as those in the master's queue.
            long waitingSince = w.IsAccepting ? w.OldestWaitingSince : 0;
            if (waitingSince != 0)
            {
                TimeSpan expires = _options.QueueTimeout - _time.GetElapsedTime(waitingSince, now);
                due = due is null || expires < due ? expires : due;
            }
        }

        if (AnyRoomLocked())
        {
            foreach (IWorkerHandle w in _workers)
            {
                // A worker being reclaimed from stops accepting until it answers: not again.
                if (w.IsAccepting && w.InFlight > w.Concurrency && w.BusySince != 0)
                {
                    TimeSpan slowAt = SlowThreshold(w) - _time.GetElapsedTime(w.BusySince, now);
                    due = due is null || slowAt < due ? slowAt : due;
                }
            }
        }

        if (due is null)
        {
            return;
        }

        // A tick past the exact moment, so that the condition holds when it fires.
        TimeSpan wait = due.Value < TimeSpan.Zero ? TimeSpan.Zero : due.Value + TimeSpan.FromTicks(1);
        if (_timerArmed && wait >= _timerDue - _time.GetElapsedTime(_timerArmedAt, now))
        {
            return;
        }

        _timerArmed = true;
        _timerArmedAt = now;
        _timerDue = wait;
        _timer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    private bool AnyRoomLocked()
    {
        foreach (IWorkerHandle w in _workers)
        {
            if (w.IsAccepting && w.InFlight < w.Concurrency)
            {
                return true;
            }
        }

        return false;
    }

    private void OnTimer()
    {
        using FlushScope sends = FlushScope.Enter();
        var expired = new List<Exchange>();
        lock (_sync)
        {
            _timerArmed = false;
            long now = _time.GetTimestamp();
            while (_queue.First is { } first && _time.GetElapsedTime(first.Value.ArrivedAt, now) > _options.QueueTimeout)
            {
                expired.Add(first.Value);
                _queue.RemoveFirst();
            }

            // Requests that waited their time on a busy worker come back here to expire.
            foreach (IWorkerHandle w in _workers)
            {
                long waitingSince = w.IsAccepting ? w.OldestWaitingSince : 0;
                if (waitingSince != 0 && _time.GetElapsedTime(waitingSince, now) > _options.QueueTimeout)
                {
                    w.RequestReclaim();
                }
            }

            ReclaimFromSlowLocked();
            ArmTimerLocked();
        }

        foreach (Exchange ex in expired)
        {
            ex.Fail(ExchangeFailure.QueueTimeout, $"no worker was free within {_options.QueueTimeout.TotalSeconds:0.###} s");
        }
    }

    public void Dispose() => _timer.Dispose();
}
