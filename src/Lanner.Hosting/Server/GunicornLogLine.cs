using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Server;

/// <summary>
/// Writes log lines the way gunicorn does, so the lines operators grep read the same:
/// <c>[2024-01-31 12:00:00 +0000] [1234] [INFO] Listening at: http://127.0.0.1:8000 (1234)</c>.
/// Worker lifecycle lines carry the worker's pid in the second field, as in gunicorn.
/// </summary>
internal static class GunicornLogLine
{
    private static readonly int MasterPid = Environment.ProcessId;

    /// <summary>The pid a line carries: the worker's for the lines gunicorn writes from the worker itself.</summary>
    internal static int PidFor<TState>(EventId eventId, TState state)
    {
        // gunicorn's "Booting worker with pid: N" and "Worker exiting (pid: N)" are written by the worker itself.
        if (eventId.Id is 1000 or 1004 && state is IReadOnlyList<KeyValuePair<string, object?>> fields)
        {
            foreach (var field in fields)
            {
                if (field.Key == "Pid" && field.Value is int workerPid)
                {
                    return workerPid;
                }
            }
        }

        return MasterPid;
    }

    /// <summary>Colour on a terminal; plain text in a pipe or a file (or with NO_COLOR set).</summary>
    internal static bool Colored { get; set; } =
        !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null && Environment.GetEnvironmentVariable("TERM") != "dumb";

    internal static string Format(DateTimeOffset time, int pid, LogLevel level, string message, bool colored = false)
    {
        string offset = (time.Offset < TimeSpan.Zero ? "-" : "+") + time.Offset.ToString("hhmm", System.Globalization.CultureInfo.InvariantCulture);
        if (!colored)
        {
            return $"[{time:yyyy-MM-dd HH:mm:ss} {offset}] [{pid}] [{LevelName(level)}] {message}";
        }

        string color = level switch
        {
            LogLevel.Trace or LogLevel.Debug => "\u001b[2m",
            LogLevel.Information => "\u001b[32m",
            LogLevel.Warning => "\u001b[33m",
            LogLevel.Error => "\u001b[31m",
            _ => "\u001b[1;31m",
        };
        const string Dim = "\u001b[2m";
        const string Reset = "\u001b[0m";
        return $"{Dim}[{time:yyyy-MM-dd HH:mm:ss} {offset}] [{pid}]{Reset} {color}[{LevelName(level)}]{Reset} {message}";
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO",
        LogLevel.Warning => "WARNING",
        LogLevel.Error => "ERROR",
        _ => "CRITICAL",
    };
}
