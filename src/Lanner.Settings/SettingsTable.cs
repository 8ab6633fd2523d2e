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

    /// <summary>Every setting, in the order of the docs.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Bind, Workers, Threads, Chdir, PythonPath, Python, Static];

    public static Setting? FindByName(string name) => All.FirstOrDefault(s => s.Name == name);

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
