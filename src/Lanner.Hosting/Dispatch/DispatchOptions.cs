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
    /// Requests a busy worker may hold queued behind each running one. Two hides the round trip
    /// through the master for fast apps (measured: ~3× the throughput of one at a time on hello-world).
    /// </summary>
    public int PipelineDepth { get; init; } = 2;

    /// <summary>
    /// Pipelining is used only while a worker's requests take less than this on average: for slow
    /// requests the round trip does not matter and queueing behind them only adds latency.
    /// </summary>
    public TimeSpan PipelineBelow { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Requests queued behind a request running longer than this (and longer than 4× the worker's
    /// average) are taken back when another worker is free.
    /// </summary>
    public TimeSpan ReclaimAfter { get; init; } = TimeSpan.FromMilliseconds(2);
}
