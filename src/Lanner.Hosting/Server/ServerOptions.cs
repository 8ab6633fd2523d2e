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

    /// <summary>With --reload: the directory whose Python files are watched, and extra globs.</summary>
    public string? WatchDirectory { get; init; }

    public IReadOnlyList<string> WatchExtraFiles { get; init; } = [];

    /// <summary>
    /// Turns the settings into options. With no APP_MODULE, a Django project's manage.py in the
    /// working directory supplies the app, the static mounts and the settings module.
    /// Throws <see cref="ConfigurationException"/> with the exit code to use.
    /// </summary>
    public static ServerOptions From(EffectiveSettings settings, LaunchContext launch, Action<string>? notice = null)
    {
        string python = settings.Get(SettingsTable.Python);
        if (python.Length == 0)
        {
            python = launch.DefaultPython ?? "python3";
        }

        string scriptName = (Environment.GetEnvironmentVariable("SCRIPT_NAME") ?? "").TrimEnd('/');
        string chdir = settings.Get(SettingsTable.Chdir);
        string directory = chdir.Length == 0 ? Directory.GetCurrentDirectory() : chdir;
        string? app = settings.AppModule;
        var environment = new Dictionary<string, string>();
        IReadOnlyList<StaticMapping> statics = settings.Get(SettingsTable.Static);
        if (string.IsNullOrEmpty(app))
        {
            string managePy = DjangoProject.FindManagePy(directory)
                ?? throw new ConfigurationException(
                    "no APP_MODULE given: name the app to serve (e.g. 'lanner myproject.wsgi:application'), "
                    + "or run lanner in the directory of a Django project's manage.py", ExitCodes.Usage);
            DjangoProject project;
            try
            {
                project = DjangoProject.Discover(python, launch.WorkerPackagePath, managePy, settings.Get(SettingsTable.Media));
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                throw new ConfigurationException(ex.Message, ExitCodes.AppLoadError);
            }

            foreach (string line in project.Notices)
            {
                notice?.Invoke(line);
            }

            app = project.AppModule;
            environment["DJANGO_SETTINGS_MODULE"] = project.SettingsModule;
            if (statics.Count == 0)
            {
                statics = [.. StaticArguments(project.Arguments)];
            }
        }

        return new ServerOptions
        {
            Binds = settings.Get(SettingsTable.Bind),
            Pool = new PoolOptions
            {
                Workers = settings.Get(SettingsTable.Workers),
                Threads = settings.Get(SettingsTable.Threads),
                PythonExecutable = python,
                WorkerPackagePath = launch.WorkerPackagePath,
                AppSpec = app,
                Chdir = chdir.Length == 0 ? null : chdir,
                PythonPath = settings.Get(SettingsTable.PythonPath),
                Environment = environment,
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
            Static = statics,
            WatchDirectory = settings.Get(SettingsTable.Reload) ? directory : null,
            WatchExtraFiles = settings.Get(SettingsTable.ReloadExtraFile),
            Version = launch.Version,
        };
    }

    private static IEnumerable<StaticMapping> StaticArguments(IReadOnlyList<string> arguments)
    {
        for (int i = 0; i + 1 < arguments.Count; i++)
        {
            if (arguments[i] == "--static")
            {
                yield return StaticMapping.Parse(arguments[++i]);
            }
        }
    }
}

/// <summary>The configuration cannot be used; the message is for the operator, with the exit code to use.</summary>
public sealed class ConfigurationException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
