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

    private readonly Channel<string> _lines;
    private readonly string _target;
    private readonly Action<string> _complain;
    private readonly Task _pump;
    private TextWriter _writer;
    private volatile bool _reopen;
    private bool _failing;
    private long _dropped;

    /// <param name="target">"-" for stdout, "stderr", or a file path (appended to).</param>
    public LineWriter(string target)
        : this(target, 65536, Complain)
    {
    }

    /// <param name="target">As above.</param>
    /// <param name="capacity">Lines held while the target cannot keep up; more are dropped, and counted.</param>
    /// <param name="complain">Where a failing target is reported (not the target itself: it may be the one failing).</param>
    internal LineWriter(string target, int capacity, Action<string> complain)
    {
        // A stuck disk must not stop the server: a line that finds the queue full is dropped,
        // and the number dropped is said once the writing goes on.
        _lines = Channel.CreateBounded<string>(
            new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite },
            _ => Interlocked.Increment(ref _dropped));
        _target = target;
        _complain = complain;
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
                    _complain($"cannot write to {_target}: {ex.Message}");
                }
            }

            SayDropped();
            await Task.Delay(Gather).ConfigureAwait(false);
        }

        SayDropped();
    }

    private void SayDropped()
    {
        long dropped = Interlocked.Exchange(ref _dropped, 0);
        if (dropped > 0)
        {
            _complain($"{dropped} line{(dropped == 1 ? "" : "s")} for {_target} dropped: writing could not keep up");
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
            _complain($"cannot reopen {_target}, still writing to the old file: {ex.Message}");
            return;
        }

        try
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            _complain($"cannot close the old {_target}: {ex.Message}");
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
