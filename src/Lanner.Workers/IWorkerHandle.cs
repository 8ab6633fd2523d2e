namespace Lanner.Workers;

/// <summary>
/// A worker as dispatch sees it. Implemented by <see cref="Worker"/>, and by fakes in the
/// dispatch tests. Counts may change on other threads; dispatch reads them under its own lock
/// and the worker re-checks in <see cref="TrySend"/>.
/// </summary>
public interface IWorkerHandle
{
    /// <summary>Lanner's number for the worker (1, 2, … in order of spawning; never reused).</summary>
    int Id { get; }

    int Pid { get; }

    /// <summary>How many requests it runs at once (its threads).</summary>
    int Concurrency { get; }

    /// <summary>Requests sent to it and not yet finished: running plus queued on it.</summary>
    int InFlight { get; }

    /// <summary>Ready and not draining.</summary>
    bool IsAccepting { get; }

    /// <summary>To be replaced once its replacement is ready: used only when no other worker has room.</summary>
    bool Retiring { get; }

    /// <summary>Timestamp since which its oldest unfinished request has (probably) been running; 0 when idle.</summary>
    long BusySince { get; }

    /// <summary>When the oldest request queued on it (sent, not started) arrived; 0 when none waits.</summary>
    long OldestWaitingSince { get; }

    /// <summary>Moving average of how long its requests take, in timestamp ticks (0 until it served one).</summary>
    long ServiceTicks { get; }

    /// <summary>Sends the request; false when the worker stopped accepting (dispatch picks another).</summary>
    bool TrySend(Exchange exchange);

    /// <summary>Tells the worker the client of this exchange went away.</summary>
    void Abort(Exchange exchange);

    /// <summary>
    /// Asks the worker to hand back every request it holds but has not started. They come back
    /// through <see cref="IWorkerEvents.Requeue"/>. False when a reclaim is already under way.
    /// </summary>
    bool RequestReclaim();

    /// <summary>Tells the worker whether the master opened the file of its ResponseFile frame.</summary>
    void AckFile(Exchange exchange, bool opened);
}

/// <summary>What the pool tells dispatch. Implemented by the dispatcher.</summary>
public interface IWorkerEvents
{
    /// <summary>The worker can take more requests (it became ready, or finished one).</summary>
    void WorkerAvailable(IWorkerHandle worker);

    /// <summary>The worker stopped accepting requests (it is draining, or gone).</summary>
    void WorkerUnavailable(IWorkerHandle worker);

    /// <summary>Requests that never started on the worker they were sent to; dispatch them again, first.</summary>
    void Requeue(IReadOnlyList<Exchange> exchanges);

    /// <summary>
    /// No worker can serve for now (they keep failing to boot): waiting requests and new ones get
    /// 503 until a worker becomes available again.
    /// </summary>
    void NoWorkersAlive(string reason);

    /// <summary>Requests wait in the master for a worker to take them.</summary>
    bool HasWaitingRequests { get; }
}
