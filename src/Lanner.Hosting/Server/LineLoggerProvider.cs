using Lanner.Hosting.Front.Logs;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Server;

/// <summary>
/// The error log: gunicorn-formatted lines to stderr or --error-logfile, written in the background.
/// The server disposes it (flushing what is queued) as it exits, after the host: the host does not
/// dispose a provider it was handed.
/// </summary>
internal sealed class LineLoggerProvider(LineWriter writer, bool colored) : ILoggerProvider
{
    /// <summary>Kestrel's requests refused as malformed: the reason is the message; its stack says nothing more.</summary>
    internal const string BadRequestsCategory = "Microsoft.AspNetCore.Server.Kestrel.BadRequests";

    public ILogger CreateLogger(string categoryName) => new LineLogger(writer, colored, categoryName != BadRequestsCategory);

    public void Reopen() => writer.Reopen();

    public void Dispose() => writer.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private sealed class LineLogger(LineWriter writer, bool colored, bool withStack) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            if (exception is not null && withStack)
            {
                message += Environment.NewLine + exception;
            }

            int pid = GunicornLogLine.PidFor(eventId, state);
            writer.Write(GunicornLogLine.Format(DateTimeOffset.Now, pid, logLevel, message, colored));
        }
    }
}
