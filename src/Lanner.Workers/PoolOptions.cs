namespace Lanner.Workers;

/// <summary>
/// What the pool needs to run workers, made by the hosting layer from the settings.
/// Immutable: a reload builds a new one.
/// </summary>
public sealed record PoolOptions
{
    /// <summary>Worker processes to keep running (gunicorn's -w).</summary>
    public required int Workers { get; init; }

    /// <summary>Requests each worker runs at once (gunicorn's --threads).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The workers' CPU scheduling policy: "batch" (SCHED_BATCH) or "normal" (--cpu-scheduling; the host applies the same to the master).</summary>
    public string Scheduling { get; init; } = "batch";

    /// <summary>The interpreter the workers run.</summary>
    public required string PythonExecutable { get; init; }

    /// <summary>The directory that holds the <c>lanner</c> package shipped with this server.</summary>
    public required string WorkerPackagePath { get; init; }

    /// <summary>APP_MODULE as the user wrote it.</summary>
    public required string AppSpec { get; init; }

    public string? Chdir { get; init; }

    public IReadOnlyList<string> PythonPath { get; init; } = [];

    /// <summary>Extra environment variables for the workers' Python (set before the app is imported).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public string ScriptName { get; init; } = "";

    /// <summary>Largest frame a worker may send: 16 MiB; bodies travel in many smaller frames.</summary>
    public int MaxFramePayload { get; init; } = Lanner.Protocol.FrameParser.DefaultMaxPayload;

    /// <summary>How long a started process may take to connect and say hello.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A request running longer is answered 504 and its worker replaced (--timeout); zero disables.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a stopping worker may take to finish what it holds (--graceful-timeout).</summary>
    public TimeSpan GracefulTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests after which a worker is replaced (--max-requests); 0 disables.</summary>
    public int MaxRequests { get; init; }

    /// <summary>Random extra requests per worker, 0..N (--max-requests-jitter).</summary>
    public int MaxRequestsJitter { get; init; }

    /// <summary>Resident memory above which a worker is replaced (--max-worker-memory); 0 disables.</summary>
    public long MaxMemoryBytes { get; init; }

    /// <summary>The app is imported once, by a zygote that forks the workers (--preload).</summary>
    public bool Preload { get; init; }

    /// <summary>Workers' stdout and stderr go to the log, line by line (--capture-output).</summary>
    public bool CaptureOutput { get; init; }

    /// <summary>A gunicorn.conf.py whose worker hooks (post_fork, pre_request, worker_exit, …) the workers run.</summary>
    public string? HookConfig { get; init; }

    /// <summary>
    /// The hook file defines worker_abort: a worker whose request runs past --timeout gets SIGABRT,
    /// which runs the hook in the worker, instead of SIGTERM (gunicorn's arbiter does the same).
    /// </summary>
    public bool AbortHook { get; init; }

    /// <summary>A worker_int hook is configured: the quick shutdown sends SIGQUIT instead of SIGKILL, so that it runs.</summary>
    public bool IntHook { get; init; }

    /// <summary>The settings the hooks see as <c>server.cfg</c>, as a JSON object.</summary>
    public string HookSettings { get; init; } = "{}";
}
