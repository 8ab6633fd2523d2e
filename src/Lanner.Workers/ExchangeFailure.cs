namespace Lanner.Workers;

/// <summary>
/// Why an exchange ended without the app's response, named by stage. The front maps each value
/// once to an HTTP status, a log level and a metric label.
/// </summary>
public enum ExchangeFailure
{
    None = 0,

    /// <summary>The worker exited while this request was running (or may have been).</summary>
    WorkerDied,

    /// <summary>The worker broke the protocol while serving this request; it was replaced.</summary>
    WorkerProtocolError,

    /// <summary>Every worker was busy and the admission queue was full.</summary>
    QueueFull,

    /// <summary>The request waited in the admission queue longer than allowed.</summary>
    QueueTimeout,

    /// <summary>No worker is alive to serve it (for example the app keeps failing to boot).</summary>
    NoWorkers,

    /// <summary>The request ran past the worker timeout; the worker was killed.</summary>
    Timeout,

    /// <summary>The server is shutting down and the request was never started.</summary>
    ShuttingDown,
}
