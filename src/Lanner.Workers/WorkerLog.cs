using Microsoft.Extensions.Logging;

namespace Lanner.Workers;

/// <summary>Log lines of the pool, with stable event ids (1000–1099). Messages start with the worker and its pid.</summary>
internal static partial class WorkerLog
{
    [LoggerMessage(1000, LogLevel.Information, "Booting worker with pid: {Pid}")]
    public static partial void Booting(ILogger logger, int pid);

    [LoggerMessage(1001, LogLevel.Debug, "Worker {Id} (pid {Pid}) is ready (Python {PythonVersion})")]
    public static partial void Ready(ILogger logger, int id, int pid, string pythonVersion);

    [LoggerMessage(1002, LogLevel.Error, "Worker {Id} (pid {Pid}) failed to boot: {Message}{Traceback}")]
    public static partial void BootFailed(ILogger logger, int id, int pid, string message, string traceback);

    [LoggerMessage(1003, LogLevel.Error, "Worker {Id} (pid {Pid}) exited unexpectedly with {Exit}{WhileServing}")]
    public static partial void DiedUnexpectedly(ILogger logger, int id, int pid, string exit, string whileServing);

    [LoggerMessage(1004, LogLevel.Information, "Worker exiting (pid: {Pid})")]
    public static partial void Exited(ILogger logger, int pid);

    [LoggerMessage(1005, LogLevel.Error, "Worker {Id} (pid {Pid}) broke the protocol: {Problem}; killing it")]
    public static partial void ProtocolViolation(ILogger logger, int id, int pid, string problem);

    [LoggerMessage(1006, LogLevel.Error, "Worker {Id} (pid {Pid}) could not be started: {Problem}")]
    public static partial void SpawnFailed(ILogger logger, int id, int pid, string problem);

    [LoggerMessage(1007, LogLevel.Warning, "Refused a worker connection: {Problem}")]
    public static partial void HandshakeRefused(ILogger logger, string problem);

    [LoggerMessage(1024, LogLevel.Error, "A worker connection failed unexpectedly; the worker will be replaced")]
    public static partial void HandshakeFailed(ILogger logger, Exception exception);

    [LoggerMessage(1025, LogLevel.Error, "Worker {Id} (pid {Pid}) exited but its connection's reader did not end; settling its requests anyway")]
    public static partial void ReaderDidNotEnd(ILogger logger, int id, int pid);

    [LoggerMessage(1008, LogLevel.Error, "Error handling request {RequestLine} (worker {Id}, pid {Pid})\n{Traceback}")]
    public static partial void AppError(ILogger logger, string requestLine, int id, int pid, string traceback);

    [LoggerMessage(1009, LogLevel.Warning, "Worker {Id} (pid {Pid}) did not stop in time; killing it")]
    public static partial void StopTimeout(ILogger logger, int id, int pid);

    [LoggerMessage(EventId = 1010, Message = "Worker {Id} (pid {Pid}): {Text}")]
    public static partial void WorkerMessage(ILogger logger, LogLevel level, int id, int pid, string text);

    [LoggerMessage(1011, LogLevel.Warning, "Worker {Id} (pid {Pid}) handed back {Count} queued request(s) to be served elsewhere")]
    public static partial void Reclaimed(ILogger logger, int id, int pid, int count);

    [LoggerMessage(1013, LogLevel.Critical, "WORKER TIMEOUT (pid:{Pid}) worker {Id} ran {RequestLine} past the {Seconds} s timeout; answered 504 and replacing it. Python stack:{Stack}")]
    public static partial void Timeout(ILogger logger, int pid, int id, string requestLine, double seconds, string stack);

    [LoggerMessage(1014, LogLevel.Information, "[worker {Id} pid {Pid}] {Line}")]
    public static partial void Output(ILogger logger, int id, int pid, string line);

    [LoggerMessage(1015, LogLevel.Information, "Worker {Id} (pid {Pid}) is being replaced: {Reason}")]
    public static partial void Recycling(ILogger logger, int id, int pid, string reason);

    [LoggerMessage(1016, LogLevel.Error, "Worker {Id} (pid {Pid}) failed to boot: crash loop, {Failures} in a row; next attempt in {Seconds} s{Detail}")]
    public static partial void CrashLoop(ILogger logger, int id, int pid, int failures, double seconds, string detail);

    [LoggerMessage(1017, LogLevel.Information, "Reloading: starting {Count} worker(s) with the new configuration (generation {Generation})")]
    public static partial void Reloading(ILogger logger, int count, int generation);

    [LoggerMessage(1018, LogLevel.Error, "Reload failed: the new workers cannot load the app ({Message}); the old workers keep serving{Traceback}")]
    public static partial void ReloadFailed(ILogger logger, string message, string traceback);

    [LoggerMessage(1019, LogLevel.Information, "Reload complete: generation {Generation} serves")]
    public static partial void Reloaded(ILogger logger, int generation);

    [LoggerMessage(1020, LogLevel.Information, "Number of workers: {Count}")]
    public static partial void WorkerCount(ILogger logger, int count);

    [LoggerMessage(1021, LogLevel.Critical, "Worker {Id} (pid {Pid}): internal error while reading its frames; replacing it")]
    public static partial void ReadLoopFailed(ILogger logger, int id, int pid, Exception exception);

    [LoggerMessage(1022, LogLevel.Information, "Booting zygote with pid: {Pid} (--preload: it imports the app and forks the workers)")]
    public static partial void BootingZygote(ILogger logger, int pid);

    [LoggerMessage(1023, LogLevel.Error, "The zygote (pid {Pid}) exited unexpectedly with {Exit}; its workers die with it and are replaced")]
    public static partial void ZygoteDied(ILogger logger, int pid, string exit);

    [LoggerMessage(1012, LogLevel.Warning, "Worker {Id} (pid {Pid}): the response file could not be opened ({Problem}); the worker sends it")]
    public static partial void FileOpenFailed(ILogger logger, int id, int pid, string problem);
}
