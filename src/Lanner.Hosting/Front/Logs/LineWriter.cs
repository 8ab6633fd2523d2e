using System.Threading.Channels;

namespace Lanner.Hosting.Front.Logs;

/// <summary>
/// Writes lines to stdout, stderr or a file from a background task, so a request never waits on
/// the disk. <see cref="Reopen"/> (SIGUSR1) reopens the file after logrotate moved it.
/// Created and disposed by the server.
/// </summary>
internal sealed class LineWriter : IAsyncDisposable
{
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(65536)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite, // a stuck disk must not stop the server
    });

    private readonly string _target;
    private readonly Task _pump;
    private TextWriter _writer;
    private volatile bool _reopen;

    /// <param name="target">"-" for stdout, "stderr", or a file path (appended to).</param>
    public LineWriter(string target)
    {
        _target = target;
        _writer = Open(target);
        _pump = PumpAsync();
    }

    public void Write(string line) => _lines.Writer.TryWrite(line);

    public void Reopen() => _reopen = true;

    private static TextWriter Open(string target) => target switch
    {
        "-" => new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false },
        "stderr" => new StreamWriter(Console.OpenStandardError()) { AutoFlush = false },
        _ => new StreamWriter(new FileStream(target, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { AutoFlush = false },
    };

    private async Task PumpAsync()
    {
        ChannelReader<string> reader = _lines.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (_reopen && _target is not ("-" or "stderr"))
            {
                _reopen = false;
                await _writer.DisposeAsync().ConfigureAwait(false);
                _writer = Open(_target);
            }

            while (reader.TryRead(out string? line))
            {
                await _writer.WriteLineAsync(line).ConfigureAwait(false);
            }

            await _writer.FlushAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
    }
}
