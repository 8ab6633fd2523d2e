using Lanner.Hosting.Dispatch;
using Lanner.Settings;
using Lanner.Workers;

namespace Lanner.Hosting.Server;

/// <summary>Facts about how this server was launched, beyond the settings.</summary>
public sealed record LaunchContext
{
    /// <summary>The interpreter of the environment lanner was installed into (set by the Python launcher).</summary>
    public string? DefaultPython { get; init; }

    /// <summary>The directory holding the <c>lanner</c> Python package that matches this server.</summary>
    public required string WorkerPackagePath { get; init; }

    public string Version { get; init; } = "0.0.0";

    public static LaunchContext FromEnvironment(string version)
    {
        string? package = Environment.GetEnvironmentVariable("LANNER_PACKAGE_PATH");
        if (string.IsNullOrEmpty(package))
        {
            package = FindPackagePath(AppContext.BaseDirectory)
                ?? throw new InvalidOperationException(
                    $"cannot find the lanner Python package near {AppContext.BaseDirectory}; set LANNER_PACKAGE_PATH to the directory that holds it");
        }

        return new LaunchContext
        {
            DefaultPython = Environment.GetEnvironmentVariable("LANNER_DEFAULT_PYTHON"),
            WorkerPackagePath = package,
            Version = version,
        };
    }

    /// <summary>
    /// Installed: the server lives in <c>site-packages/lanner/_server/</c>, so the package dir is two
    /// levels up. In a checkout: <c>python/</c> at the repository root.
    /// </summary>
    internal static string? FindPackagePath(string baseDirectory)
    {
        for (DirectoryInfo? dir = new(baseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "lanner", "worker", "__init__.py")))
            {
                return dir.FullName;
            }

            if (File.Exists(Path.Combine(dir.FullName, "python", "lanner", "worker", "__init__.py")))
            {
                return Path.Combine(dir.FullName, "python");
            }
        }

        return null;
    }
}

/// <summary>Everything the server needs, made once from the settings; each layer gets its own part.</summary>
public sealed record ServerOptions
{
    public required IReadOnlyList<BindAddress> Binds { get; init; }

    public required PoolOptions Pool { get; init; }

    public required DispatchOptions Dispatch { get; init; }

    /// <summary>How long a graceful shutdown waits for requests to finish (gunicorn's --graceful-timeout, 30 s).</summary>
    public TimeSpan GracefulTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string ScriptName { get; init; } = "";

    public IReadOnlyList<StaticMapping> Static { get; init; } = [];

    public string Version { get; init; } = "0.0.0";

    public static ServerOptions From(EffectiveSettings settings, LaunchContext launch)
    {
        string python = settings.Get(SettingsTable.Python);
        if (python.Length == 0)
        {
            python = launch.DefaultPython ?? "python3";
        }

        string scriptName = (Environment.GetEnvironmentVariable("SCRIPT_NAME") ?? "").TrimEnd('/');
        string chdir = settings.Get(SettingsTable.Chdir);
        return new ServerOptions
        {
            Binds = settings.Get(SettingsTable.Bind),
            Pool = new PoolOptions
            {
                Workers = settings.Get(SettingsTable.Workers),
                Threads = settings.Get(SettingsTable.Threads),
                PythonExecutable = python,
                WorkerPackagePath = launch.WorkerPackagePath,
                AppSpec = settings.AppModule ?? "",
                Chdir = chdir.Length == 0 ? null : chdir,
                PythonPath = settings.Get(SettingsTable.PythonPath),
                ScriptName = scriptName,
                Timeout = settings.Get(SettingsTable.Timeout),
                GracefulTimeout = settings.Get(SettingsTable.GracefulTimeout),
                MaxRequests = settings.Get(SettingsTable.MaxRequests),
                MaxRequestsJitter = settings.Get(SettingsTable.MaxRequestsJitter),
                MaxMemoryBytes = settings.Get(SettingsTable.MaxWorkerMemory) * 1024L * 1024L,
                CaptureOutput = settings.Get(SettingsTable.CaptureOutput),
                Preload = settings.Get(SettingsTable.Preload),
            },
            Dispatch = new DispatchOptions
            {
                MaxQueue = settings.Get(SettingsTable.MaxQueue),
                QueueTimeout = settings.Get(SettingsTable.QueueTimeout),
            },
            GracefulTimeout = settings.Get(SettingsTable.GracefulTimeout),
            ScriptName = scriptName,
            Static = settings.Get(SettingsTable.Static),
            Version = launch.Version,
        };
    }
}
