using System.Threading.Channels;

namespace Lanner.Hosting.Front.Logs;

/// <summary>
/// Writes lines to stdout, stderr or a file from a background task, so a request never waits on
/// the disk. <see cref="Reopen"/> (SIGUSR1) reopens the file after logrotate moved it.
/// Created and disposed by the server.
/// </summary>
/// <remarks>
/// After each write the task rests for <see cref="Gather"/> before it waits for lines again.
/// A line that comes while it rests is queued without waking it, so under load the lines of
/// one interval go out in one write instead of each waking a thread for a write of its own
/// (docs/performance.md, "Access log").
/// </remarks>
internal sealed class LineWriter : IAsyncDisposable
{
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(20);

    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(65536)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.DropWrite, // a stuck disk must not stop the server
    });

    private readonly string _target;
    private readonly Task _pump;
    private TextWriter _writer;
    private volatile bool _reopen;
    private bool _failing;

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
                await ReopenAsync().ConfigureAwait(false);
            }

            try
            {
                while (reader.TryRead(out string? line))
                {
                    await _writer.WriteLineAsync(line).ConfigureAwait(false);
                }

                await _writer.FlushAsync().ConfigureAwait(false);
                _failing = false;
            }
            catch (IOException ex)
            {
                // A full or failing disk: these lines are lost, the next ones are tried again
                // (and said once, not per batch).
                if (!_failing)
                {
                    _failing = true;
                    Complain($"cannot write to {_target}: {ex.Message}");
                }
            }

            await Task.Delay(Gather).ConfigureAwait(false);
        }
    }

    /// <summary>Opens the path anew (logrotate moved the file); when that fails, keeps writing to the old file.</summary>
    private async Task ReopenAsync()
    {
        TextWriter fresh;
        try
        {
            fresh = Open(_target);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Complain($"cannot reopen {_target}, still writing to the old file: {ex.Message}");
            return;
        }

        try
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            Complain($"cannot close the old {_target}: {ex.Message}");
        }

        _writer = fresh;
    }

    /// <summary>Straight to stderr: the error log may be this very writer.</summary>
    private static void Complain(string message)
    {
        try
        {
            Console.Error.WriteLine("lanner: " + message);
        }
        catch (IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
    }
}
