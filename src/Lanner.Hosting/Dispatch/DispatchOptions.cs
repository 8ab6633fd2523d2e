namespace Lanner.Hosting.Dispatch;

/// <summary>How requests are admitted and spread over the workers. Made from the settings by the host.</summary>
public sealed record DispatchOptions
{
    /// <summary>
    /// Requests that may wait in the master for a worker. Beyond it: 503 at once. Default 2048,
    /// gunicorn's default listen backlog, which is where its requests wait.
    /// </summary>
    public int MaxQueue { get; init; } = 2048;

    /// <summary>How long a request may wait for a worker before it gets 503. Default 30 s, gunicorn's request timeout.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Requests a busy worker may hold queued behind each running one, for fast apps: the worker
    /// never waits for the round trip through the master, and reads its requests in batches.
    /// Measured on 2 cores, 2 workers, wrk -c64 (requests/s): depth 1: hello 45k, Django 10.5k;
    /// 2: 47k, 11.6k; 8: 59-65k, 12.7k. Since the master runs as SCHED_BATCH it comes back to a
    /// worker less often, and the worker needs more queued to last until then: Django 13.1-13.5k
    /// at depth 8, 14.4k at 16 (docs/decisions/0003-pipeline-depth.md). Requests behind one that
    /// turns slow are reclaimed (<see cref="ReclaimAfter"/>), so depth costs no head-of-line blocking.
    /// </summary>
    public int PipelineDepth { get; init; } = 16;

    /// <summary>
    /// Pipelining is used only while a worker's requests take less than this on average: for slow
    /// requests the round trip does not matter and queueing behind them only adds latency.
    /// </summary>
    public TimeSpan PipelineBelow { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Requests queued behind a request running longer than this (and longer than 4× the worker's
    /// average) are taken back when another worker is free. 10 ms: longer than a scheduler time
    /// slice, so a worker that was merely preempted on a busy machine does not count as slow
    /// (at 2 ms, hello-world under full load caused ~40 needless reclaims a second on 2 cores).
    /// </summary>
    public TimeSpan ReclaimAfter { get; init; } = TimeSpan.FromMilliseconds(10);
}
