namespace Lanner.Settings;

/// <summary>Application, static files, logging and control settings.</summary>
public static partial class SettingsTable
{
    public static readonly Setting<string> Chdir = new(
        "chdir",
        ["--chdir"],
        AppSection,
        "",
        "an existing directory",
        raw => raw.Length == 0 ? "" : Directory.Exists(raw) ? Path.GetFullPath(raw) : throw new ArgumentException("no such directory"),
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
        raw => CommaList(raw).ToList(),
        "Comma-separated directories to add to the Python path before loading the app; relative ones are relative to --chdir, as in gunicorn.",
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
        raw => raw.Length == 0 || IsExecutable(raw) ? raw : throw new ArgumentException("no such program"),
        "The Python interpreter the workers run.",
        "The interpreter of the environment lanner was installed into, so the app sees that environment's packages.",
        metaVar: "PATH",
        format: v => v.Length == 0 ? "(the interpreter lanner was installed with)" : v)
    { FromGunicorn = false };

    public static readonly Setting<IReadOnlyList<string>> RawEnv = new(
        "raw_env",
        ["-e", "--env"],
        AppSection,
        [],
        "KEY=VALUE (repeatable)",
        raw => raw.Contains('=', StringComparison.Ordinal) && raw.IndexOf('=', StringComparison.Ordinal) > 0
            ? [raw]
            : throw new SettingException($"--env: invalid value '{raw}' (expected KEY=VALUE)"),
        "Set an environment variable in the workers, before the app is imported. Repeatable.",
        "None added.",
        metaVar: "KEY=VALUE",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList());

    public static readonly Setting<string> Paste = NotHere("paste", ["--paste", "--paster"], AppSection, "", Support.Refused,
        "Refused: PasteDeploy configurations are not read; name the app as APP_MODULE (module:callable).", metaVar: "INI");

    public static readonly Setting<string> RawPasteGlobalConf = NotHere("raw_paste_global_conf", ["--paste-global"], AppSection, "", Support.Refused,
        "Refused, with --paste.", metaVar: "CONF");

    public static readonly Setting<IReadOnlyList<StaticMapping>> Static = new(
        "static",
        ["--static"],
        StaticSection,
        [],
        "URL_PREFIX=DIR",
        raw => [StaticMapping.Parse(raw)],
        "Serve the files under DIR at URL_PREFIX from the master, without Python (e.g. /static/=staticfiles). Repeatable.",
        "Nothing: without it every request goes to the app (a Django project started with no APP_MODULE gets STATIC_ROOT at STATIC_URL).",
        metaVar: "PREFIX=DIR",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList())
    { FromGunicorn = false };

    public static readonly Setting<bool> Media = Switch(
        "media",
        ["--media"],
        StaticSection,
        "Django projects that lanner finds itself (no APP_MODULE) or that python manage.py lanner starts: also serve MEDIA_ROOT at MEDIA_URL from the master (uploaded files).",
        "Off: uploaded files are often served by something else (object storage, a CDN).",
        fromGunicorn: false);

    public static readonly Setting<string> Sendfile = NotHere("sendfile", ["--no-sendfile"], StaticSection, "false", Support.Warned,
        "Ignored: the master sends files (static files, wsgi.file_wrapper) itself.", isSwitch: true);

    public static readonly Setting<string> AccessLog = new(
        "accesslog",
        ["--access-logfile"],
        LoggingSection,
        "",
        "a file, or - for stdout",
        raw => raw == "-" || raw.Length == 0 ? raw : Path.GetFullPath(raw),
        "Write an access log line per request to this file ('-': stdout).",
        "None, as gunicorn: no access log unless asked; but for a Django project with DEBUG on that lanner finds itself or python manage.py lanner starts, '-' (stdout), as runserver shows each request (--access-logfile '' turns it off). Lines are written in the background, gathered for up to 20 ms, so a request never waits on the disk. Unlike gunicorn's, the log also has a line for each request refused as malformed (400, 414, 431), with '-' for what could not be parsed, and 499 with no bytes for a request whose client left before any of the response went out, as nginx's has.",
        metaVar: "FILE",
        format: v => v.Length == 0 ? "(none)" : v);

    /// <summary>gunicorn's default access log format.</summary>
    public const string GunicornAccessLogFormat = "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"";

    public static readonly Setting<string> AccessLogFormat = new(
        "access_log_format",
        ["--access-logformat"],
        LoggingSection,
        GunicornAccessLogFormat,
        "a gunicorn access log format, or json",
        raw => raw,
        "The access log format, with gunicorn's codes (h l u t r m U q H s B b f a T M D L p {header}i {header}o {variable}e), or 'json' for one JSON object per line. The master writes the line, so {variable}e knows the variables the server sets (REMOTE_ADDR, SERVER_NAME, ...), not keys the app adds to its environ (those log as -).",
        "gunicorn's own default, so existing log parsers keep working.",
        metaVar: "FORMAT");

    public static readonly Setting<string> ErrorLog = new(
        "errorlog",
        ["--error-logfile", "--log-file"],
        LoggingSection,
        "-",
        "a file, or - for stderr",
        raw => raw == "-" || raw.Length == 0 ? "-" : Path.GetFullPath(raw),
        "Write the error log (everything but the access log) to this file ('-': stderr).",
        "'-': stderr, as gunicorn, where systemd and containers collect it.",
        metaVar: "FILE");

    public static readonly Setting<string> LogLevel = new(
        "loglevel",
        ["--log-level"],
        LoggingSection,
        "info",
        "debug, info, warning, error or critical",
        raw => raw.Trim().ToLowerInvariant() switch
        {
            "debug" or "info" or "warning" or "error" or "critical" => raw.Trim().ToLowerInvariant(),
            "warn" => "warning",
            _ => throw new FormatException(),
        },
        "The least severe level written to the error log.",
        "info, as gunicorn.",
        metaVar: "LEVEL");

    public static readonly Setting<string> DisableRedirectAccessToSyslog = NotHere("disable_redirect_access_to_syslog", ["--disable-redirect-access-to-syslog"],
        LoggingSection, "false", Support.Warned, "Ignored: Lanner does not log to syslog.", isSwitch: true);

    public static readonly Setting<string> LoggerClass = NotHere("logger_class", ["--logger-class"], LoggingSection, "gunicorn.glogging.Logger", Support.Refused,
        "Refused: the master is not Python; choose the format with --access-logformat (json for machines) and the files with --access-logfile/--error-logfile.",
        metaVar: "CLASS");

    public static readonly Setting<string> LogConfig = NotHere("logconfig", ["--log-config"], LoggingSection, "", Support.Refused,
        "Refused: Python logging configuration files do not apply to the master; the app's own logging is unchanged.", metaVar: "FILE");

    public static readonly Setting<string> LogConfigDict = NotHere("logconfig_dict", [], LoggingSection, "", Support.Refused,
        "Refused, as --log-config.");

    public static readonly Setting<string> SyslogAddr = NotHere("syslog_addr", ["--log-syslog-to"], LoggingSection, "udp://localhost:514", Support.Refused,
        "Refused: log to stderr and let journald or the container runtime collect it.", metaVar: "ADDRESS");

    public static readonly Setting<string> Syslog = NotHere("syslog", ["--log-syslog"], LoggingSection, "false", Support.Refused,
        "Refused: log to stderr and let journald or the container runtime collect it.", isSwitch: true);

    public static readonly Setting<string> SyslogPrefix = NotHere("syslog_prefix", ["--log-syslog-prefix"], LoggingSection, "", Support.Refused,
        "Refused, with --log-syslog.", metaVar: "PREFIX");

    public static readonly Setting<string> SyslogFacility = NotHere("syslog_facility", ["--log-syslog-facility"], LoggingSection, "user", Support.Refused,
        "Refused, with --log-syslog.", metaVar: "FACILITY");

    public static readonly Setting<string> EnableStdioInheritance = NotHere("enable_stdio_inheritance", ["-R", "--enable-stdio-inheritance"], LoggingSection,
        "false", Support.Warned, "Ignored: workers always share the master's stdout and stderr (unless --capture-output).", isSwitch: true);

    public static readonly Setting<string> StatsdHost = NotHere("statsd_host", ["--statsd-host"], LoggingSection, "", Support.Refused,
        "Refused: Lanner publishes Prometheus metrics at /metrics on --control-bind.", metaVar: "HOST:PORT");

    public static readonly Setting<string> DogstatsdTags = NotHere("dogstatsd_tags", ["--dogstatsd-tags"], LoggingSection, "", Support.Refused,
        "Refused, with --statsd-host.", metaVar: "TAGS");

    public static readonly Setting<string> StatsdPrefix = NotHere("statsd_prefix", ["--statsd-prefix"], LoggingSection, "", Support.Refused,
        "Refused, with --statsd-host.", metaVar: "PREFIX");

    /// <summary>A program that can be started: an executable file at the path, or on $PATH for a bare name.</summary>
    private static bool IsExecutable(string program)
    {
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        static bool Runnable(string path) =>
            File.Exists(path) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & anyExecute) != 0);

        if (program.Contains('/', StringComparison.Ordinal))
        {
            return Runnable(program);
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => Runnable(Path.Combine(dir, program)));
    }
}
