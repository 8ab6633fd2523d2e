using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Server;

/// <summary>Log lines of the master's lifecycle, event ids 3000–3099, in gunicorn's words where it has them.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(3000, LogLevel.Information, "Starting lanner {Version}")]
    public static partial void Starting(ILogger logger, string version);

    [LoggerMessage(3001, LogLevel.Information, "Listening at: {Addresses} ({Pid})")]
    public static partial void Listening(ILogger logger, string addresses, int pid);

    [LoggerMessage(3002, LogLevel.Information, "Using worker: {Kind}")]
    public static partial void UsingWorker(ILogger logger, string kind);

    [LoggerMessage(3003, LogLevel.Information, "Handling signal: {Signal}")]
    public static partial void HandlingSignal(ILogger logger, string signal);

    [LoggerMessage(3004, LogLevel.Information, "Shutting down: Master")]
    public static partial void ShuttingDown(ILogger logger);

    [LoggerMessage(3020, LogLevel.Warning, "Handling signal: {Signal} during the graceful stop: stopping now, requests still running are cut off")]
    public static partial void StoppingNow(ILogger logger, string signal);

    [LoggerMessage(3005, LogLevel.Error, "Failed to load the app {AppSpec}: {Message}{Traceback}")]
    public static partial void AppLoadFailed(ILogger logger, string appSpec, string message, string traceback);

    [LoggerMessage(3006, LogLevel.Error, "Reason: {Reason}")]
    public static partial void Reason(ILogger logger, string reason);

    [LoggerMessage(3007, LogLevel.Error, "Connection in use: {Address}")]
    public static partial void ConnectionInUse(ILogger logger, string address);

    [LoggerMessage(3008, LogLevel.Error, "Cannot listen at {Address}: {Problem}")]
    public static partial void CannotListen(ILogger logger, string address, string problem);

    [LoggerMessage(3010, LogLevel.Error, "Reload: the configuration is invalid ({Problem}); nothing changed")]
    public static partial void ReloadConfigInvalid(ILogger logger, string problem);

    [LoggerMessage(3011, LogLevel.Warning, "Reload: {Settings} changed, but the master applies these only as it starts: they keep their running values until a restart")]
    public static partial void NotReloaded(ILogger logger, string settings);

    [LoggerMessage(3012, LogLevel.Information, "Watching {Directory} for changes (--reload)")]
    public static partial void Watching(ILogger logger, string directory);

    [LoggerMessage(3013, LogLevel.Information, "{File} changed, reloading")]
    public static partial void SourceChanged(ILogger logger, string file);

    [LoggerMessage(3009, LogLevel.Warning, "Static files for {Prefix}: the directory {Directory} does not exist; those URLs answer 404")]
    public static partial void StaticDirectoryMissing(ILogger logger, string prefix, string directory);

    [LoggerMessage(3014, LogLevel.Error, "Server hook: {Problem}")]
    public static partial void HookFailed(ILogger logger, string problem);

    /// <summary>A line a server hook wrote with server.log (or a worker's log in pre_fork/child_exit).</summary>
    [LoggerMessage(EventId = 3020, Message = "{Text}")]
    public static partial void HookMessage(ILogger logger, LogLevel level, string text);

    [LoggerMessage(3015, LogLevel.Error, "Cannot write the pid file {Path}: {Problem}")]
    public static partial void PidFileFailed(ILogger logger, string path, string problem);

    [LoggerMessage(3016, LogLevel.Information, "Control endpoints (/metrics, /livez, /readyz, /status) at: {Addresses}")]
    public static partial void ControlListening(ILogger logger, string addresses);

    [LoggerMessage(3017, LogLevel.Information, "Reopening log files")]
    public static partial void ReopeningLogs(ILogger logger);

    [LoggerMessage(3018, LogLevel.Error, "Cannot open the {Which} log {Path}: {Problem}")]
    public static partial void LogFileFailed(ILogger logger, string which, string path, string problem);

    [LoggerMessage(3019, LogLevel.Warning, "--cpu-scheduling batch: {Error}; the master keeps its normal policy")]
    public static partial void SchedulingFailed(ILogger logger, string error);
}
