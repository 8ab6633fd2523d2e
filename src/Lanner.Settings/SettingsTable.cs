using System.Globalization;

namespace Lanner.Settings;

/// <summary>
/// Every setting of Lanner, declared once. The command line, the config-file readers and
/// docs/settings.md are generated from this table.
/// </summary>
public static class SettingsTable
{
    public const string ServerSection = "Server socket";
    public const string WorkerSection = "Worker processes";
    public const string AppSection = "Application";
    public const string StaticSection = "Static files";
    public const string DevelopmentSection = "Development";

    public static readonly Setting<IReadOnlyList<BindAddress>> Bind = new(
        "bind",
        ["-b", "--bind"],
        ServerSection,
        [new BindAddress("127.0.0.1", 8000, null)],
        "HOST:PORT, [IPv6]:PORT or unix:PATH",
        raw => raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BindAddress.Parse).ToList(),
        "The socket to bind: HOST:PORT, [IPv6]:PORT or unix:PATH; port 0 picks a free port. Repeat to bind several.",
        "127.0.0.1:8000, gunicorn's default: reachable only from this machine until you say otherwise.",
        metaVar: "ADDRESS",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList());

    public static readonly Setting<int> Workers = new(
        "workers",
        ["-w", "--workers"],
        WorkerSection,
        1,
        "a positive integer",
        raw => PositiveInt(raw),
        "The number of worker processes (each a plain Python interpreter running your app).",
        "1, as gunicorn: set it to about 2-4 per core for production.",
        metaVar: "INT");

    public static readonly Setting<int> Threads = new(
        "threads",
        ["--threads"],
        WorkerSection,
        1,
        "a positive integer",
        raw => PositiveInt(raw),
        "The number of threads per worker that run requests at once (for apps that wait on I/O).",
        "1, as gunicorn: one request at a time per worker, no thread-safety surprises.",
        metaVar: "INT");

    public static readonly Setting<string> Chdir = new(
        "chdir",
        ["--chdir"],
        AppSection,
        "",
        "a directory",
        raw => raw.Length == 0 ? "" : Path.GetFullPath(raw),
        "Change to this directory before loading the app.",
        "The directory lanner was started in.",
        metaVar: "DIR",
        format: v => v.Length == 0 ? "(the current directory)" : v);

    public static readonly Setting<IReadOnlyList<string>> PythonPath = new(
        "pythonpath",
        ["--pythonpath"],
        AppSection,
        [],
        "a comma-separated list of directories",
        raw => raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Path.GetFullPath).ToList(),
        "Comma-separated directories to add to the Python path before loading the app.",
        "Nothing added: the app's directory is already first on the path.",
        metaVar: "DIRS",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList());

    public static readonly Setting<string> Python = new(
        "python",
        ["--python"],
        AppSection,
        "",
        "a Python interpreter (3.9 or newer)",
        raw => raw,
        "The Python interpreter the workers run.",
        "The interpreter of the environment lanner was installed into, so the app sees that environment's packages.",
        metaVar: "PATH",
        format: v => v.Length == 0 ? "(the interpreter lanner was installed with)" : v);

    public static readonly Setting<IReadOnlyList<StaticMapping>> Static = new(
        "static",
        ["--static"],
        StaticSection,
        [],
        "URL_PREFIX=DIR",
        raw => [StaticMapping.Parse(raw)],
        "Serve the files under DIR at URL_PREFIX from the master, without Python (e.g. /static/=staticfiles). Repeatable.",
        "Nothing: without it every request goes to the app.",
        metaVar: "PREFIX=DIR",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList());

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

    public static readonly Setting<int> MaxRequests = new(
        "max_requests",
        ["--max-requests"],
        WorkerSection,
        0,
        "a non-negative integer (0 disables)",
        raw => NonNegativeInt(raw),
        "Replace a worker after it has served this many requests (a simple guard against leaks). 0 disables.",
        "0, as gunicorn: workers live until something else replaces them.",
        metaVar: "INT");

    public static readonly Setting<int> MaxRequestsJitter = new(
        "max_requests_jitter",
        ["--max-requests-jitter"],
        WorkerSection,
        0,
        "a non-negative integer",
        raw => NonNegativeInt(raw),
        "Add a random 0..N to each worker's --max-requests, so that workers are not all replaced at once.",
        "0, as gunicorn.",
        metaVar: "INT");

    public static readonly Setting<int> MaxWorkerMemory = new(
        "max_worker_memory",
        ["--max-worker-memory"],
        WorkerSection,
        0,
        "a non-negative number of megabytes (0 disables)",
        raw => NonNegativeInt(raw),
        "Replace a worker whose resident memory (RSS, sampled every second) exceeds this many MB, after its current request. 0 disables.",
        "0: no limit; set it a little above what a healthy worker of your app uses.",
        metaVar: "MB");

    public static readonly Setting<int> MaxQueue = new(
        "max_queue",
        ["--max-queue"],
        WorkerSection,
        2048,
        "a positive integer",
        raw => PositiveInt(raw),
        "Requests that may wait in the master when every worker is busy; beyond it they get 503 with Retry-After at once.",
        "2048, gunicorn's listen backlog: where its waiting requests queue.",
        metaVar: "INT");

    public static readonly Setting<TimeSpan> QueueTimeout = new(
        "queue_timeout",
        ["--queue-timeout"],
        WorkerSection,
        TimeSpan.FromSeconds(30),
        "a number of seconds",
        raw => Seconds(raw, allowZero: false),
        "How long a request may wait for a free worker before it gets 503 with Retry-After.",
        "30 s: a client waits no longer for a worker than a request may run.",
        metaVar: "SECONDS",
        format: FormatSeconds);

    public static readonly Setting<bool> Preload = new(
        "preload_app",
        ["--preload"],
        WorkerSection,
        false,
        "true or false",
        raw => Bool(raw),
        "Import the app once in a parent Python process and fork the workers from it: memory shared copy-on-write, and a replacement worker in milliseconds. A reload (HUP) restarts that parent, so new code is loaded.",
        "Off, as gunicorn: each worker imports the app itself.",
        format: v => v ? "true" : "false",
        isSwitch: true);

    public static readonly Setting<bool> CaptureOutput = new(
        "capture_output",
        ["--capture-output"],
        WorkerSection,
        false,
        "true or false",
        raw => Bool(raw),
        "Send what the workers print to stdout and stderr to the error log, line by line, tagged with the worker.",
        "Off, as gunicorn: the workers share the master's terminal.",
        format: v => v ? "true" : "false",
        isSwitch: true);

    public static readonly Setting<bool> Reload = new(
        "reload",
        ["--reload"],
        DevelopmentSection,
        false,
        "true or false",
        raw => Bool(raw),
        "Development: restart the workers when a Python file of the project (or a --reload-extra-file) changes, and say which.",
        "Off: in production, code changes are deployed with a reload (HUP).",
        format: v => v ? "true" : "false",
        isSwitch: true);

    public static readonly Setting<IReadOnlyList<string>> ReloadExtraFile = new(
        "reload_extra_files",
        ["--reload-extra-file"],
        DevelopmentSection,
        [],
        "a file name or glob (repeatable)",
        raw => [raw],
        "With --reload, also watch these files (globs such as templates/**/*.html). Repeatable.",
        "Only Python files are watched.",
        metaVar: "FILES",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList());

    public static readonly Setting<bool> Media = new(
        "media",
        ["--media"],
        StaticSection,
        false,
        "true or false",
        raw => Bool(raw),
        "Django projects: also serve MEDIA_ROOT at MEDIA_URL from the master (uploaded files).",
        "Off: uploaded files are often served by something else (object storage, a CDN).",
        format: v => v ? "true" : "false",
        isSwitch: true);

    /// <summary>Every setting, in the order of the docs.</summary>
    public static IReadOnlyList<Setting> All { get; } =
    [
        Bind, Workers, Threads, Timeout, GracefulTimeout, MaxRequests, MaxRequestsJitter, MaxWorkerMemory,
        MaxQueue, QueueTimeout, Preload, CaptureOutput, Chdir, PythonPath, Python, Static, Media, Reload, ReloadExtraFile,
    ];

    public static Setting? FindByName(string name) => All.FirstOrDefault(s => s.Name == name);

    private static int NonNegativeInt(string raw)
    {
        int value = int.Parse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        if (value < 0)
        {
            throw new FormatException();
        }

        return value;
    }

    private static TimeSpan Seconds(string raw, bool allowZero = true)
    {
        double value = double.Parse(raw.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);
        if (value < 0 || (!allowZero && value == 0) || double.IsNaN(value) || double.IsInfinity(value) || value > 86400 * 365)
        {
            throw new FormatException();
        }

        return TimeSpan.FromSeconds(value);
    }

    private static string FormatSeconds(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>gunicorn's boolean spellings, for config files and environment variables.</summary>
    private static bool Bool(string raw) => raw.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" or "y" or "t" => true,
        "false" or "0" or "no" or "off" or "n" or "f" or "" => false,
        _ => throw new FormatException(),
    };

    private static int PositiveInt(string raw)
    {
        int value = int.Parse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        if (value < 1)
        {
            throw new FormatException();
        }

        return value;
    }
}
