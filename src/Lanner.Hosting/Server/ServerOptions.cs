using Lanner.Hosting.Dispatch;
using Lanner.Hosting.Front;
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

    /// <summary>The Django project <c>python manage.py lanner</c> handed over (<see cref="DjangoProject.EnvironmentVariable"/>), as JSON.</summary>
    public string? DjangoProject { get; init; }

    public static LaunchContext FromEnvironment(string version)
    {
        string? package = Environment.GetEnvironmentVariable("LANNER_PACKAGE_PATH");
        if (string.IsNullOrEmpty(package))
        {
            package = FindPackagePath(AppContext.BaseDirectory)
                ?? throw new InvalidOperationException(
                    $"cannot find the lanner Python package near {AppContext.BaseDirectory}; set LANNER_PACKAGE_PATH to the directory that holds it");
        }

        // Read once: the workers and hook processes inherit the environment, and it is not theirs.
        string? project = Environment.GetEnvironmentVariable(Server.DjangoProject.EnvironmentVariable);
        Environment.SetEnvironmentVariable(Server.DjangoProject.EnvironmentVariable, null);
        return new LaunchContext
        {
            DefaultPython = Environment.GetEnvironmentVariable("LANNER_DEFAULT_PYTHON"),
            WorkerPackagePath = package,
            Version = version,
            DjangoProject = string.IsNullOrEmpty(project) ? null : project,
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

    /// <summary>-k: "sync" or "gthread"; the same worker runs either, with --threads threads.</summary>
    public string WorkerClass { get; init; } = "sync";

    /// <summary>The values of the settings a reload does not apply (<see cref="SettingsTable.RestartOnly"/>), by name.</summary>
    public IReadOnlyDictionary<string, string> RestartOnly { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<StaticMapping> Static { get; init; } = [];

    public string Version { get; init; } = "0.0.0";

    /// <summary>With --reload: the directory whose Python files are watched, and extra globs.</summary>
    public string? WatchDirectory { get; init; }

    public IReadOnlyList<string> WatchExtraFiles { get; init; } = [];

    /// <summary>What the request path needs: SCRIPT_NAME, header limits, trusted proxies.</summary>
    public FrontOptions Front { get; init; } = new();

    public ListenOptions Listen { get; init; } = new();

    public LogOptions Logs { get; init; } = new();

    /// <summary>--control-bind: where /metrics, /livez, /readyz and /status are served; null: nowhere.</summary>
    public BindAddress? ControlBind { get; init; }

    /// <summary>--pid: the file the master's pid is written to.</summary>
    public string? PidFile { get; init; }

    /// <summary>The gunicorn.conf.py whose master-side hooks run (in a helper Python process), and which of them it defines.</summary>
    public HookOptions? Hooks { get; init; }

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
        foreach (string pair in settings.Get(SettingsTable.RawEnv))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (pair[..eq] == "SCRIPT_NAME")
            {
                scriptName = pair[(eq + 1)..].TrimEnd('/'); // gunicorn reads SCRIPT_NAME from --env too
            }
        }

        string chdir = settings.Get(SettingsTable.Chdir);
        string directory = chdir.Length == 0 ? Directory.GetCurrentDirectory() : chdir;
        string? app = settings.AppModule;
        var environment = new Dictionary<string, string>();
        foreach (string pair in settings.Get(SettingsTable.RawEnv))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            environment[pair[..eq]] = pair[(eq + 1)..];
        }

        string config = settings.Get(SettingsTable.Config);
        string[] hooks = [.. SettingsTable.Hooks.Where(h => settings.Get(h)).Select(h => h.Name)];
        HookOptions? hookOptions = hooks.Length > 0 && config.EndsWith(".py", StringComparison.Ordinal)
            ? new HookOptions(config, hooks, HookOptions.SettingsAsJson(settings))
            : null;
        IReadOnlyList<StaticMapping> statics = settings.Get(SettingsTable.Static);
        DjangoProject? project = null;
        if (string.IsNullOrEmpty(app))
        {
            string managePy = DjangoProject.FindManagePy(directory)
                ?? throw new ConfigurationException(
                    "no APP_MODULE given: name the app to serve (e.g. 'lanner myproject.wsgi:application'), "
                    + "or run lanner in the directory of a Django project's manage.py", ExitCodes.Usage);
            try
            {
                project = DjangoProject.Discover(python, launch.WorkerPackagePath, managePy);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                throw new ConfigurationException(ex.Message, ExitCodes.AppLoadError);
            }

            app = project.AppModule;
        }
        else if (launch.DjangoProject is not null)
        {
            try
            {
                project = DjangoProject.Parse(launch.DjangoProject);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.Text.Json.JsonException)
            {
                throw new ConfigurationException($"${DjangoProject.EnvironmentVariable} (set by python manage.py lanner): {ex.Message}", ExitCodes.Usage);
            }
        }

        // A Django project with DEBUG on restarts its workers on code changes, as runserver does,
        // unless reload is set anywhere (--reload false, reload = false, $LANNER_RELOAD).
        bool reload = settings.Get(SettingsTable.Reload);
        if (project is { Debug: true } && settings.SourceOf(SettingsTable.Reload) == SettingSource.Default)
        {
            reload = true;
            notice?.Invoke("DEBUG is on: the workers restart when the project's files change, as under runserver (--reload false turns it off)");
        }

        if (project is not null)
        {
            bool media = settings.Get(SettingsTable.Media);
            foreach (string line in media ? [.. project.Notices, .. project.MediaNotices] : project.Notices)
            {
                notice?.Invoke(line);
            }

            environment["DJANGO_SETTINGS_MODULE"] = project.SettingsModule;
            // The project's mounts (STATIC_ROOT, and MEDIA_ROOT with --media) come after the
            // user's --static ones, except where a --static mount already takes their prefix.
            IEnumerable<string> arguments = media ? [.. project.Arguments, .. project.MediaArguments] : project.Arguments;
            statics = [.. statics, .. StaticArguments([.. arguments]).Where(m => !statics.Any(s => s.Prefix == m.Prefix))];
        }
        else if (settings.Get(SettingsTable.Media))
        {
            notice?.Invoke("--media has no effect with an APP_MODULE: it serves a Django project's MEDIA_ROOT when lanner finds the project itself "
                + "(no APP_MODULE, or python manage.py lanner); otherwise add --static MEDIA_URL=MEDIA_ROOT");
        }

        return new ServerOptions
        {
            Binds = settings.Get(SettingsTable.Bind),
            Pool = new PoolOptions
            {
                Workers = settings.Get(SettingsTable.Workers),
                Threads = settings.Get(SettingsTable.Threads),
                Scheduling = settings.Get(SettingsTable.CpuScheduling),
                PythonExecutable = python,
                WorkerPackagePath = launch.WorkerPackagePath,
                AppSpec = app,
                Chdir = chdir.Length == 0 ? null : chdir,
                PythonPath = [.. settings.Get(SettingsTable.PythonPath).Select(p => Path.GetFullPath(p, directory))],
                Environment = environment,
                ScriptName = scriptName,
                Timeout = settings.Get(SettingsTable.Timeout),
                GracefulTimeout = settings.Get(SettingsTable.GracefulTimeout),
                MaxRequests = settings.Get(SettingsTable.MaxRequests),
                MaxRequestsJitter = settings.Get(SettingsTable.MaxRequestsJitter),
                MaxMemoryBytes = settings.Get(SettingsTable.MaxWorkerMemory) * 1024L * 1024L,
                CaptureOutput = settings.Get(SettingsTable.CaptureOutput),
                Preload = settings.Get(SettingsTable.Preload),
                HookConfig = hookOptions is not null && hooks.Any(HookOptions.WorkerHooks.Contains) ? config : null,
                HookSettings = hookOptions?.SettingsJson ?? "{}",
                AbortHook = hookOptions is not null && hooks.Contains("worker_abort"),
                IntHook = hookOptions is not null && hooks.Contains("worker_int"),
            },
            Dispatch = new DispatchOptions
            {
                MaxQueue = settings.Get(SettingsTable.MaxQueue),
                QueueTimeout = settings.Get(SettingsTable.QueueTimeout),
            },
            GracefulTimeout = settings.Get(SettingsTable.GracefulTimeout),
            WorkerClass = settings.Get(SettingsTable.WorkerClass),
            RestartOnly = SettingsTable.RestartOnly.ToDictionary(s => s.Name, s => s.Format(settings.GetValue(s))),
            Static = statics,
            // The project's own directory when there is a Django project (manage.py lanner may run elsewhere).
            WatchDirectory = reload ? project?.Directory ?? directory : null,
            WatchExtraFiles = settings.Get(SettingsTable.ReloadExtraFile),
            Version = launch.Version,
            Front = new FrontOptions
            {
                ScriptName = scriptName,
                LimitRequestFieldSize = settings.Get(SettingsTable.LimitRequestFieldSize),
                ForwardedAllowIps = new AllowList(settings.Get(SettingsTable.ForwardedAllowIps)),
                ProxyProtocol = settings.Get(SettingsTable.ProxyProtocol),
                KeepAlive = settings.Get(SettingsTable.KeepAlive) > TimeSpan.Zero,
                ClientCertificates = settings.Get(SettingsTable.CertReqs) > 0,
                SecureSchemeHeaders = [.. settings.Get(SettingsTable.SecureSchemeHeaders).Select(SplitPair)],
            },
            Listen = new ListenOptions
            {
                Backlog = settings.Get(SettingsTable.Backlog),
                KeepAlive = settings.Get(SettingsTable.KeepAlive),
                LimitRequestLine = settings.Get(SettingsTable.LimitRequestLine),
                LimitRequestFields = settings.Get(SettingsTable.LimitRequestFields),
                CertFile = NullIfEmpty(settings.Get(SettingsTable.CertFile)),
                KeyFile = NullIfEmpty(settings.Get(SettingsTable.KeyFile)),
                CertReqs = settings.Get(SettingsTable.CertReqs),
                CaCerts = NullIfEmpty(settings.Get(SettingsTable.CaCerts)),
                Umask = settings.Get(SettingsTable.Umask),
                ProxyAllowIps = settings.Get(SettingsTable.ProxyProtocol) ? new AllowList(settings.Get(SettingsTable.ProxyAllowIps)) : null,
            },
            Logs = new LogOptions
            {
                // A Django project with DEBUG on, and no access log asked for or refused anywhere:
                // each request on stdout, as runserver shows them.
                AccessLog = project is { Debug: true } && settings.SourceOf(SettingsTable.AccessLog) == SettingSource.Default
                    ? "-"
                    : NullIfEmpty(settings.Get(SettingsTable.AccessLog)),
                AccessLogFormat = settings.Get(SettingsTable.AccessLogFormat),
                ErrorLog = settings.Get(SettingsTable.ErrorLog),
                Level = settings.Get(SettingsTable.LogLevel),
            },
            ControlBind = settings.Get(SettingsTable.ControlBind) is { Length: > 0 } control ? BindAddress.Parse(control) : null,
            PidFile = NullIfEmpty(settings.Get(SettingsTable.PidFile)),
            Hooks = hookOptions,
        };
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static (string Header, string Value) SplitPair(string pair)
    {
        int eq = pair.IndexOf('=', StringComparison.Ordinal);
        return (pair[..eq], pair[(eq + 1)..]);
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

/// <summary>How Kestrel listens: socket, HTTP limits and TLS.</summary>
public sealed record ListenOptions
{
    public int Backlog { get; init; } = 2048;

    /// <summary>How long an idle keep-alive connection is kept (gunicorn's --keep-alive).</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest request line in bytes, 0 for Kestrel's largest (--limit-request-line).</summary>
    public int LimitRequestLine { get; init; } = 4094;

    /// <summary>Most header fields, 0 for no limit beyond Kestrel's own (--limit-request-fields).</summary>
    public int LimitRequestFields { get; init; } = 100;

    public string? CertFile { get; init; }

    public string? KeyFile { get; init; }

    /// <summary>--cert-reqs: 0 no client certificate, 1 optional, 2 required.</summary>
    public int CertReqs { get; init; }

    /// <summary>--ca-certs: the CAs client certificates must chain to; null for the system's.</summary>
    public string? CaCerts { get; init; }

    public int Umask { get; init; }

    /// <summary>With --proxy-protocol: the peers allowed to send a PROXY header (--proxy-allow-from); null without it.</summary>
    public AllowList? ProxyAllowIps { get; init; }
}

/// <summary>Where the access and error logs go, and in what shape.</summary>
public sealed record LogOptions
{
    /// <summary>--access-logfile: a path, "-" for stdout, or null for no access log.</summary>
    public string? AccessLog { get; init; }

    public string AccessLogFormat { get; init; } = SettingsTable.GunicornAccessLogFormat;

    /// <summary>--error-logfile: a path or "-" for stderr.</summary>
    public string ErrorLog { get; init; } = "-";

    /// <summary>debug, info, warning, error or critical.</summary>
    public string Level { get; init; } = "info";
}

/// <summary>A gunicorn.conf.py that defines server hooks.</summary>
public sealed record HookOptions(string ConfigFile, IReadOnlyList<string> Defined, string SettingsJson)
{
    /// <summary>The effective settings as the hooks see them in <c>server.cfg</c>: gunicorn's names, plain JSON values.</summary>
    public static string SettingsAsJson(EffectiveSettings settings)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (Setting setting in SettingsTable.All)
        {
            if (setting.Section == SettingsTable.HooksSection || setting.Support != Support.Supported)
            {
                continue;
            }

            object value = settings.GetValue(setting);
            values[setting.Name] = value switch
            {
                int or bool or string => value,
                TimeSpan t => t.TotalSeconds,
                IReadOnlyList<string> list => list,
                IReadOnlyList<BindAddress> binds => binds.Select(b => b.ToString()).ToList(),
                _ => setting.Format(value),
            };
        }

        return System.Text.Json.JsonSerializer.Serialize(values);
    }

    /// <summary>Hooks called inside the workers; the rest run in the master's hook helper.</summary>
    public static readonly IReadOnlySet<string> WorkerHooks = new HashSet<string>(StringComparer.Ordinal)
    {
        "post_fork", "post_worker_init", "pre_request", "post_request", "worker_exit", "worker_int", "worker_abort",
    };

    public IEnumerable<string> MasterHooks => Defined.Where(h => !WorkerHooks.Contains(h) && h != "pre_exec");
}

/// <summary>The configuration cannot be used; the message is for the operator, with the exit code to use.</summary>
public sealed class ConfigurationException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
