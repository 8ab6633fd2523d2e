using System.CommandLine;
using Lanner.Cli;
using Lanner.Hosting.Server;
using Lanner.Settings;

// The lanner command. Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 the app cannot be loaded.

// Socket completions run inline on the epoll threads (no thread-pool hop per I/O): read once by
// System.Net.Sockets when the first socket is made, so it is set before anything else.
// See docs/decisions/0002-inline-io.md.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

// One socket thread per two cores (one on 2 cores): the master's work is a fraction of the
// Python workers', and fewer threads mean fewer context switches. On 2 cores a second thread
// gave no consistent gain and, in some runs, took an unequal share of the connections and cut
// hello-world throughput by a quarter (docs/decisions/0002-inline-io.md).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT",
        Math.Max(1, Environment.ProcessorCount / 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
}

string version = typeof(CommandLine).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

if (args.Length > 0 && args[0] == "top")
{
    return await TopCommand.RunAsync(args[1..]);
}

// `lanner check [options] [APP_MODULE]`: the configuration is valid and the app loads.
bool checkOnly = args.Length > 0 && args[0] == "check";
string[] arguments = checkOnly ? args[1..] : args;
var commandLine = new CommandLine();
ParseResult parsed = commandLine.Parse(arguments);

if (commandLine.UnknownOption(arguments) is null && parsed.Errors.Count == 0)
{
    if (commandLine.WantsVersion(parsed))
    {
        Console.WriteLine($"lanner (version {version})");
        return ExitCodes.Ok;
    }

    if (parsed.Action is System.CommandLine.Help.HelpAction)
    {
        return parsed.Invoke();
    }
}

LaunchContext launch;
try
{
    launch = LaunchContext.FromEnvironment(version);
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine($"lanner: error: {ex.Message}");
    return ExitCodes.Error;
}

var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
    .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");

(EffectiveSettings? settings, string? problem) = Load();
if (settings is null)
{
    Console.Error.WriteLine($"lanner: error: {problem}");
    Console.Error.WriteLine("Run 'lanner --help' to see the options.");
    return ExitCodes.Usage;
}

foreach (string warning in settings.Warnings)
{
    Console.Error.WriteLine($"lanner: warning: {warning}");
}

if (settings.Get(SettingsTable.PrintConfig))
{
    ConfigurationLoader.Print(settings, Console.Out);
    return ExitCodes.Ok;
}

// A reload says again only what it has not said (a file saved in development reloads often).
var said = new HashSet<string>(StringComparer.Ordinal);
void NoticeOnce(string line)
{
    if (said.Add(line))
    {
        Notice(line);
    }
}

ServerOptions options;
try
{
    options = ServerOptions.From(settings, launch, NoticeOnce);
}
catch (ConfigurationException ex)
{
    Console.Error.WriteLine($"lanner: error: {ex.Message}");
    return ex.ExitCode;
}

if (checkOnly || settings.Get(SettingsTable.CheckConfig))
{
    return AppCheck.Run(options, Console.Out, Console.Error);
}

// HUP reads the configuration again, from the same sources.
(ServerOptions?, string?) Reload()
{
    (EffectiveSettings? again, string? error) = Load();
    if (again is null)
    {
        return (null, error);
    }

    try
    {
        return (ServerOptions.From(again, launch, NoticeOnce), null);
    }
    catch (ConfigurationException ex)
    {
        return (null, ex.Message);
    }
}

return await LannerServer.RunAsync(options, Reload);

(EffectiveSettings? Settings, string? Problem) Load()
{
    try
    {
        return (ConfigurationLoader.Load(commandLine, arguments, environment, launch.DefaultPython), null);
    }
    catch (SettingException ex)
    {
        return (null, ex.Message);
    }
}

static void Notice(string line) => Console.Error.WriteLine($"lanner: {line}");
