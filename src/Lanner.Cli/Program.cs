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

// One socket thread per four cores: the master's work is a fraction of the Python workers', and
// fewer threads mean fewer context switches (measured on 2 cores: one thread serves hello-world
// as fast as two, with a better p99, and leaves more CPU to Django).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT",
        Math.Max(1, Environment.ProcessorCount / 4).ToString(System.Globalization.CultureInfo.InvariantCulture));
}

string version = typeof(CommandLine).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
var commandLine = new CommandLine();
ParseResult parsed = commandLine.Parse(args);

if (commandLine.UnknownOption(args) is { } unknown)
{
    Console.Error.WriteLine($"lanner: error: unrecognized option '{unknown}'");
    Console.Error.WriteLine("Run 'lanner --help' to see the options.");
    return ExitCodes.Usage;
}

if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine($"lanner: error: {error.Message}");
    }

    Console.Error.WriteLine("Run 'lanner --help' to see the options.");
    return ExitCodes.Usage;
}

if (commandLine.WantsVersion(parsed))
{
    Console.WriteLine($"lanner (version {version})");
    return ExitCodes.Ok;
}

if (parsed.Action is System.CommandLine.Help.HelpAction)
{
    return parsed.Invoke();
}

(EffectiveSettings? settings, string? problem) = ReadSettings(commandLine, parsed);
if (settings is null)
{
    Console.Error.WriteLine($"lanner: error: {problem}");
    return ExitCodes.Usage;
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

ServerOptions options;
try
{
    options = ServerOptions.From(settings, launch, Notice);
}
catch (ConfigurationException ex)
{
    Console.Error.WriteLine($"lanner: error: {ex.Message}");
    return ex.ExitCode;
}

// HUP reads the configuration again, from the same sources.
(ServerOptions?, string?) Reload()
{
    (EffectiveSettings? again, string? error) = ReadSettings(commandLine, commandLine.Parse(args));
    if (again is null)
    {
        return (null, error);
    }

    try
    {
        return (ServerOptions.From(again, launch, Notice), null);
    }
    catch (ConfigurationException ex)
    {
        return (null, ex.Message);
    }
}

return await LannerServer.RunAsync(options, Reload);

static void Notice(string line) => Console.Error.WriteLine($"lanner: {line}");

static (EffectiveSettings? Settings, string? Problem) ReadSettings(CommandLine commandLine, ParseResult parsed)
{
    try
    {
        var builder = new SettingsBuilder();
        commandLine.Apply(parsed, builder);
        return (builder.Build(), null);
    }
    catch (SettingException ex)
    {
        return (null, ex.Message);
    }
}
