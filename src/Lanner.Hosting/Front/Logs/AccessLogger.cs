namespace Lanner.Hosting.Front.Logs;

/// <summary>--access-logfile with --access-logformat (gunicorn's codes, or json). Owned by the server.</summary>
internal sealed class AccessLogger(LineWriter writer, string format) : IAsyncDisposable
{
    private readonly AccessLogFormat? _format = format.Trim() == "json" ? null : AccessLogFormat.Compile(format);

    public void Log(in AccessRecord record) => writer.Write(_format is null ? JsonAccessLog.Render(record) : _format.Render(record));

    public void Reopen() => writer.Reopen();

    public ValueTask DisposeAsync() => writer.DisposeAsync();
}
