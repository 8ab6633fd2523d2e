using System.Globalization;

namespace Lanner.Settings;

/// <summary>
/// Every setting of Lanner — and every setting gunicorn has, supported, accepted with a warning,
/// or refused with an explanation — declared once. The command line, the config-file readers,
/// docs/settings.md and docs/gunicorn-parity.md are generated from this table.
/// </summary>
public static partial class SettingsTable
{
    public const string ConfigSection = "Config file";
    public const string ServerSection = "Server socket";
    public const string WorkerSection = "Worker processes";
    public const string SecuritySection = "Security";
    public const string DevelopmentSection = "Development";
    public const string MechanicsSection = "Server mechanics";
    public const string StaticSection = "Static files";
    public const string LoggingSection = "Logging";
    public const string ControlSection = "Metrics and health";
    public const string NamingSection = "Process naming";
    public const string TlsSection = "TLS";
    public const string HooksSection = "Server hooks";
    public const string AppSection = "Application";

    /// <summary>Sections in the order of the docs and of --help.</summary>
    public static IReadOnlyList<string> Sections { get; } =
    [
        ConfigSection, ServerSection, WorkerSection, AppSection, StaticSection, LoggingSection, ControlSection,
        SecuritySection, TlsSection, DevelopmentSection, MechanicsSection, NamingSection, HooksSection,
    ];

    // Built on first use: the settings are declared across the partial files, whose static
    // initializers run in an order C# does not promise.
    private static readonly Lazy<IReadOnlyList<Setting>> s_all = new(BuildAll);

    /// <summary>Every setting, grouped by section in the order of the docs.</summary>
    public static IReadOnlyList<Setting> All => s_all.Value;

    private static IReadOnlyList<Setting> BuildAll()
    {
        Setting[] settings =
        [
            Config, WsgiApp,
            Bind, Backlog, ControlBind,
            Workers, WorkerClass, Threads, CpuScheduling, WorkerConnections, MaxRequests, MaxRequestsJitter, MaxWorkerMemory, Timeout,
            GracefulTimeout, KeepAlive, MaxQueue, QueueTimeout, Preload, CaptureOutput,
            Chdir, PythonPath, Python, RawEnv, Paste, RawPasteGlobalConf,
            Static, Media, Sendfile,
            AccessLog, AccessLogFormat, ErrorLog, LogLevel, DisableRedirectAccessToSyslog, LoggerClass, LogConfig, LogConfigDict,
            SyslogAddr, Syslog, SyslogPrefix, SyslogFacility, EnableStdioInheritance, StatsdHost, DogstatsdTags, StatsdPrefix,
            LimitRequestLine, LimitRequestFields, LimitRequestFieldSize, ForwardedAllowIps, SecureSchemeHeaders,
            ProxyProtocol, ProxyAllowIps, StripHeaderSpaces, TolerateDangerousFraming,
            CertFile, KeyFile, SslVersion, CertReqs, CaCerts, SuppressRaggedEofs, DoHandshakeOnConnect, Ciphers,
            Reload, ReloadEngine, ReloadExtraFile, Spew, CheckConfig, PrintConfig,
            ReusePort, Daemon, PidFile, WorkerTmpDir, User, Group, Umask, InitGroups, TmpUploadDir,
            ProcName, DefaultProcName,
            .. Hooks,
        ];
        return [.. settings.OrderBy(s => IndexOf(Sections, s.Section))];
    }

    private static int IndexOf(IReadOnlyList<string> list, string item)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] == item)
            {
                return i;
            }
        }

        return list.Count;
    }

    public static Setting? FindByName(string name) => All.FirstOrDefault(s => s.Name == name);

    // ---- parsers shared by the sections -------------------------------------------------------------

    internal static int PositiveInt(string raw)
    {
        int value = int.Parse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return value >= 1 ? value : throw new FormatException();
    }

    internal static int NonNegativeInt(string raw)
    {
        int value = int.Parse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return value >= 0 ? value : throw new FormatException();
    }

    internal static TimeSpan Seconds(string raw, bool allowZero = true)
    {
        double value = double.Parse(raw.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);
        if (value < 0 || (!allowZero && value == 0) || double.IsNaN(value) || double.IsInfinity(value) || value > 86400 * 365)
        {
            throw new FormatException();
        }

        return TimeSpan.FromSeconds(value);
    }

    internal static string FormatSeconds(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>gunicorn's boolean spellings, for config files and environment variables.</summary>
    internal static bool Bool(string raw) => raw.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" or "y" or "t" => true,
        "false" or "0" or "no" or "off" or "n" or "f" or "" or "none" => false,
        _ => throw new FormatException(),
    };

    internal static string FormatBool(bool value) => value ? "true" : "false";

    internal static IReadOnlyList<string> CommaList(string raw) =>
        raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Settings the master applies only as it starts: its listeners, front door, queue and logs.
    /// A reload (HUP) keeps their running values and says which of them changed.
    /// </summary>
    public static IReadOnlyList<Setting> RestartOnly => s_restartOnly.Value;

    private static readonly Lazy<IReadOnlyList<Setting>> s_restartOnly = new(BuildRestartOnly);

    private static IReadOnlyList<Setting> BuildRestartOnly()
    {
        Setting[] settings =
        [
            Bind, Backlog, ControlBind, KeepAlive, MaxQueue, QueueTimeout, Static, Media,
            AccessLog, AccessLogFormat, ErrorLog, LogLevel,
            LimitRequestLine, LimitRequestFields, LimitRequestFieldSize, ForwardedAllowIps, SecureSchemeHeaders, ProxyProtocol, ProxyAllowIps,
            CertFile, KeyFile, CertReqs, CaCerts, Reload, ReloadExtraFile, PidFile, Umask,
        ];
        return settings;
    }

    /// <summary>A file that may be left unset: kept as an absolute path, "" (shown as "(none)") when not given.</summary>
    internal static Setting<string> OptionalFile(string name, string[] flags, string section, string accepts, string help, string defaultReason) =>
        new(name, flags, section, "", accepts, raw => raw.Length == 0 ? "" : Path.GetFullPath(raw), help, defaultReason,
            metaVar: "FILE", format: v => v.Length == 0 ? "(none)" : v);

    /// <summary>A list of trusted front ends: IP addresses, networks (10.0.0.0/8) or "*".</summary>
    internal static IReadOnlyList<string> AddressList(string raw)
    {
        IReadOnlyList<string> entries = CommaList(raw);
        foreach (string entry in entries)
        {
            if (entry != "*" && !System.Net.IPAddress.TryParse(entry, out _) && !System.Net.IPNetwork.TryParse(entry, out _))
            {
                throw new FormatException();
            }
        }

        return entries;
    }

    internal static Setting<bool> Switch(string name, string[] flags, string section, string help, string defaultReason, bool fromGunicorn = true) =>
        new(name, flags, section, false, "true or false", Bool, help, defaultReason, format: FormatBool, isSwitch: true)
        { FromGunicorn = fromGunicorn };

    /// <summary>A gunicorn setting that Lanner accepts only at its default (refused) or ignores (warned).</summary>
    internal static Setting<string> NotHere(string name, string[] flags, string section, string gunicornDefault, Support support, string why,
        bool isSwitch = false, string metaVar = "VALUE") =>
        new(name, flags, section, gunicornDefault, "any value (it has no effect)", raw => raw, why,
            "gunicorn's default; " + (support == Support.Refused ? "any other value is refused." : "any other value is ignored with a warning."),
            metaVar: isSwitch ? "" : metaVar, isSwitch: isSwitch, format: v => NormalizeFlag(v, isSwitch))
        {
            Support = support,
            SupportNote = why,
        };

    private static string NormalizeFlag(string value, bool isSwitch)
    {
        if (!isSwitch)
        {
            return value;
        }

        try
        {
            return FormatBool(Bool(value));
        }
        catch (FormatException)
        {
            return value;
        }
    }
}
