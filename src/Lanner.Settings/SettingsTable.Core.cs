namespace Lanner.Settings;

/// <summary>Config file, server socket and worker settings.</summary>
public static partial class SettingsTable
{
    public static readonly Setting<string> Config = OptionalFile(
        "config",
        ["-c", "--config"],
        ConfigSection,
        "a gunicorn.conf.py, a lanner.toml or a pyproject.toml",
        "The config file: a gunicorn.conf.py (Python, run with the workers' interpreter), a lanner.toml, or a pyproject.toml with a [tool.lanner] table.",
        "Without it: ./lanner.toml, then [tool.lanner] in ./pyproject.toml, then ./gunicorn.conf.py (gunicorn's default), whichever exists first.");

    public static readonly Setting<string> WsgiApp = new(
        "wsgi_app",
        [],
        ConfigSection,
        "",
        "module:callable",
        raw => raw,
        "APP_MODULE given in a config file (the command line's APP_MODULE wins).",
        "None: the app is named on the command line, or found next to a Django manage.py.",
        format: v => v.Length == 0 ? "(none)" : v);

    public static readonly Setting<IReadOnlyList<BindAddress>> Bind = new(
        "bind",
        ["-b", "--bind"],
        ServerSection,
        [new BindAddress("127.0.0.1", 8000, null)],
        "HOST:PORT, [IPv6]:PORT or unix:PATH",
        raw => CommaList(raw).Select(BindAddress.Parse).ToList(),
        "The socket to bind: HOST:PORT, [IPv6]:PORT or unix:PATH; port 0 picks a free port. Repeat to bind several.",
        "127.0.0.1:8000, gunicorn's default: reachable only from this machine until you say otherwise ($PORT, if set, makes it 0.0.0.0:$PORT, as gunicorn).",
        metaVar: "ADDRESS",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList());

    public static readonly Setting<int> Backlog = new(
        "backlog",
        ["--backlog"],
        ServerSection,
        2048,
        "a positive integer",
        PositiveInt,
        "The listen queue of each bound socket: connections the kernel holds before the master accepts them.",
        "2048, gunicorn's default.",
        metaVar: "INT");

    public static readonly Setting<string> ControlBind = new(
        "control_bind",
        ["--control-bind"],
        ControlSection,
        "",
        "HOST:PORT or unix:PATH",
        raw => raw.Length == 0 ? "" : BindAddress.Parse(raw).ToString(),
        "Serve /metrics (Prometheus), /livez, /readyz and /status (for `lanner top`) on this separate address.",
        "None: metrics and health stay off until you choose where they may be reached.",
        metaVar: "ADDRESS",
        format: v => v.Length == 0 ? "(none)" : v)
    { FromGunicorn = false };

    public static readonly Setting<int> Workers = new(
        "workers",
        ["-w", "--workers"],
        WorkerSection,
        1,
        "a positive integer",
        PositiveInt,
        "The number of worker processes (each a plain Python interpreter running your app).",
        "1, as gunicorn ($WEB_CONCURRENCY, if set, as gunicorn): set it to about 2-4 per core for production.",
        metaVar: "INT");

    public static readonly Setting<string> WorkerClass = new(
        "worker_class",
        ["-k", "--worker-class"],
        WorkerSection,
        "sync",
        "sync or gthread",
        raw => raw.Trim() switch
        {
            "sync" or "gunicorn.workers.sync.SyncWorker" => "sync",
            "gthread" or "gunicorn.workers.gthread.ThreadWorker" => "gthread",
            _ => throw new SettingException(
                $"--worker-class: '{raw}' is not supported: Lanner runs WSGI apps in its own workers, one request per thread "
                + "(sync, or gthread with --threads); its master already does what event-loop workers are for (many idle connections)"),
        },
        "sync or gthread: either runs --threads threads per worker (gunicorn, too, turns sync into gthread when --threads is above 1), and the log names gthread for either. Other gunicorn worker classes are refused.",
        "sync, as gunicorn.",
        metaVar: "CLASS");

    public static readonly Setting<int> Threads = new(
        "threads",
        ["--threads"],
        WorkerSection,
        1,
        "a positive integer",
        PositiveInt,
        "The number of threads per worker that run requests at once (for apps that wait on I/O).",
        "1, as gunicorn: one request at a time per worker, no thread-safety surprises.",
        metaVar: "INT");

    public static readonly Setting<string> CpuScheduling = new(
        "cpu_scheduling",
        ["--cpu-scheduling"],
        WorkerSection,
        "batch",
        "batch or normal",
        raw => raw.Trim() switch
        {
            "batch" => "batch",
            "normal" => "normal",
            _ => throw new FormatException(),
        },
        "The Linux CPU scheduling policy of the master and the workers. batch (SCHED_BATCH): a process that wakes up does not pre-empt one that is running, so the master handles what has piled up in one go instead of interrupting the app for every request and response; and the workers run 4 nicer than the master, so the master, which every request passes through, gets the CPU first when they compete. normal: they keep the policy and niceness they were started with.",
        "batch: measured on 2 cores, 10-15% more requests/s on Django and on a small app, a lower p99 on Django, and with the nicer workers a lower p99 on a small app (docs/decisions/0004-cpu-scheduling.md).",
        metaVar: "POLICY")
    { FromGunicorn = false };

    public static readonly Setting<string> WorkerConnections = NotHere("worker_connections", ["--worker-connections"], WorkerSection, "1000", Support.Warned,
        "Ignored: the master holds every client connection, without a per-worker limit.", metaVar: "INT");

    public static readonly Setting<int> MaxRequests = new(
        "max_requests",
        ["--max-requests"],
        WorkerSection,
        0,
        "a non-negative integer (0 disables)",
        NonNegativeInt,
        "Replace a worker after it has served this many requests (a simple guard against leaks). It serves on until its replacement is ready, so no request waits for the swap: it may serve a few more. 0 disables.",
        "0, as gunicorn: workers live until something else replaces them.",
        metaVar: "INT");

    public static readonly Setting<int> MaxRequestsJitter = new(
        "max_requests_jitter",
        ["--max-requests-jitter"],
        WorkerSection,
        0,
        "a non-negative integer",
        NonNegativeInt,
        "Add a random 0..N to each worker's --max-requests, so that workers are not all replaced at once.",
        "0, as gunicorn.",
        metaVar: "INT");

    public static readonly Setting<int> MaxWorkerMemory = new(
        "max_worker_memory",
        ["--max-worker-memory"],
        WorkerSection,
        0,
        "a non-negative number of MiB (0 disables)",
        NonNegativeInt,
        "Replace a worker whose resident memory (RSS, sampled every second) exceeds this many MiB (1 MiB = 1,048,576 bytes), after its current request. 0 disables.",
        "0: no limit; set it a little above what a healthy worker of your app uses.",
        metaVar: "MIB")
    { FromGunicorn = false };

    public static readonly Setting<TimeSpan> Timeout = new(
        "timeout",
        ["-t", "--timeout"],
        WorkerSection,
        TimeSpan.FromSeconds(30),
        "a number of seconds (0 disables)",
        raw => Seconds(raw),
        "A request running longer than this many seconds is answered 504; its worker's Python stack is logged and the worker is replaced. 0 disables.",
        "30 s, as gunicorn: long enough for any page, short enough that a stuck worker is noticed.",
        metaVar: "SECONDS",
        format: FormatSeconds);

    public static readonly Setting<TimeSpan> GracefulTimeout = new(
        "graceful_timeout",
        ["--graceful-timeout"],
        WorkerSection,
        TimeSpan.FromSeconds(30),
        "a number of seconds",
        raw => Seconds(raw),
        "On shutdown or reload, how long requests in progress may take to finish.",
        "30 s, as gunicorn.",
        metaVar: "SECONDS",
        format: FormatSeconds);

    public static readonly Setting<TimeSpan> KeepAlive = new(
        "keepalive",
        ["--keep-alive"],
        WorkerSection,
        TimeSpan.FromSeconds(5),
        "a number of seconds (0: no keep-alive)",
        raw => Seconds(raw, allowZero: true),
        "How long an idle keep-alive connection is kept open for its next request. 0 closes each HTTP/1 connection after its response, as gunicorn.",
        "5 s (uvicorn's): gunicorn's 2 s assumes a proxy in front; Lanner faces clients itself, where reusing connections matters.",
        metaVar: "SECONDS",
        format: FormatSeconds);

    public static readonly Setting<int> MaxQueue = new(
        "max_queue",
        ["--max-queue"],
        WorkerSection,
        2048,
        "a positive integer",
        PositiveInt,
        "Requests that may wait in the master when every worker is busy; beyond it they get 503 with Retry-After at once.",
        "2048, gunicorn's listen backlog: where its waiting requests queue.",
        metaVar: "INT")
    { FromGunicorn = false };

    public static readonly Setting<TimeSpan> QueueTimeout = new(
        "queue_timeout",
        ["--queue-timeout"],
        WorkerSection,
        TimeSpan.FromSeconds(30),
        "a positive number of seconds",
        raw => Seconds(raw, allowZero: false),
        "How long a request may wait for a free worker before it gets 503 with Retry-After.",
        "30 s: a client waits no longer for a worker than a request may run.",
        metaVar: "SECONDS",
        format: FormatSeconds)
    { FromGunicorn = false };

    public static readonly Setting<bool> Preload = Switch(
        "preload_app",
        ["--preload"],
        WorkerSection,
        "Import the app once in a parent Python process and fork the workers from it: memory shared copy-on-write, and a replacement worker in milliseconds. A reload (HUP) restarts that parent, so new code is loaded.",
        "Off, as gunicorn: each worker imports the app itself.");

    public static readonly Setting<bool> CaptureOutput = Switch(
        "capture_output",
        ["--capture-output"],
        LoggingSection,
        "Send what the workers print to stdout and stderr to the error log, line by line, tagged with the worker.",
        "Off, as gunicorn: the workers share the master's terminal.");
}
