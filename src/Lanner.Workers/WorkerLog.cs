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

    [LoggerMessage(1008, LogLevel.Error, "Error handling request {RequestLine} (worker {Id}, pid {Pid})\n{Traceback}")]
    public static partial void AppError(ILogger logger, string requestLine, int id, int pid, string traceback);

    [LoggerMessage(1009, LogLevel.Warning, "Worker {Id} (pid {Pid}) did not stop in time; killing it")]
    public static partial void StopTimeout(ILogger logger, int id, int pid);

    [LoggerMessage(EventId = 1010, Message = "Worker {Id} (pid {Pid}): {Text}")]
    public static partial void WorkerMessage(ILogger logger, LogLevel level, int id, int pid, string text);

    [LoggerMessage(1011, LogLevel.Warning, "Worker {Id} (pid {Pid}) handed back {Count} queued request(s) to be served elsewhere")]
    public static partial void Reclaimed(ILogger logger, int id, int pid, int count);

    [LoggerMessage(1012, LogLevel.Warning, "Worker {Id} (pid {Pid}): the response file could not be opened ({Problem}); the worker sends it")]
    public static partial void FileOpenFailed(ILogger logger, int id, int pid, string problem);
}
