using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using Lanner.Protocol;
using Microsoft.Extensions.Logging;

namespace Lanner.Workers;

/// <summary>
/// One worker process and everything the master knows of it: its state, its connection, and the
/// requests sent to it in order. Created and run by the <see cref="WorkerPool"/>, which disposes
/// it after <see cref="RunAsync"/> returns.
/// </summary>
/// <remarks>
/// Invariant: <see cref="_inflight"/> holds, in the order they were sent, exactly the exchanges
/// sent to this worker that have not ended. A worker starts them in that order, so when it dies
/// the first <see cref="Concurrency"/> of them may have started and the rest have not.
/// </remarks>
public sealed class Worker : IWorkerHandle, IDisposable
{
    private readonly WorkerPool _pool;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly object _sync = new();
    private readonly List<Exchange> _inflight = [];
    // Snapshots of _inflight for the dispatcher, which reads them on every request without
    // taking _sync: written under _sync by SnapshotLocked after each change.
    private volatile int _inflightCount;
    private long _busySince;
    private long _oldestWaitingSince;
    private readonly TaskCompletionSource _connectionClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Written under _sync; read without it by the dispatcher's hot path (a snapshot, as a locked
    // read would be once the lock is released).
    private volatile WorkerState _state = WorkerState.Spawned;
    private Process? _process;
    private Task<int>? _exited;
    private Socket? _socket;
    private FrameWriter? _writer;
    private uint _nextStream;
    private volatile bool _reclaiming;
    private bool _stopRequested;

    /// <summary>Lanner asked this worker to stop (or killed it).</summary>
    internal bool StopRequested
    {
        get
        {
            lock (_sync)
            {
                return _stopRequested;
            }
        }
    }
    private bool _killedByLanner;
    private bool _bootFailed;
    private bool _protocolError;
    private bool _timedOut;
    private long _served;
    private long _serviceTicks;
    private long _dumpOffset;

    internal Worker(int id, int generation, PoolOptions options, WorkerPool pool, TimeProvider time, ILogger log, int recycleLimit)
    {
        Id = id;
        Generation = generation;
        Options = options;
        Concurrency = options.Threads;
        RecycleLimit = recycleLimit;
        _pool = pool;
        _time = time;
        _log = log;
        SpawnedAt = time.GetTimestamp();
    }

    public int Id { get; }

    /// <summary>The configuration generation it was started with (a reload starts a new one).</summary>
    public int Generation { get; }

    internal PoolOptions Options { get; }

    public int Pid { get; private set; }

    public int Concurrency { get; }

    /// <summary>Requests it serves before it is replaced (--max-requests with jitter).</summary>
    public int RecycleLimit { get; }

    public long SpawnedAt { get; }

    public string PythonVersion { get; private set; } = "?";

    /// <summary>True once the worker has loaded the app.</summary>
    public bool WasReady { get; private set; }

    /// <summary>Set by the pool: this worker is to be replaced, and stops once its replacement is ready.</summary>
    public bool Retiring { get; internal set; }

    /// <summary>Where the worker's faulthandler writes Python stacks (on SIGUSR1 and on fatal signals).</summary>
    internal string? DumpPath { get; set; }

    /// <summary>The worker's scoreboard: per thread, the stream it is running (0 when idle).</summary>
    internal string? BoardPath { get; set; }

    /// <summary>The streams the scoreboard says were running, or null when it cannot be read.</summary>
    private HashSet<uint>? RunningFromBoard()
    {
        try
        {
            if (BoardPath is null || !WasReady)
            {
                return null;
            }

            byte[] board = File.ReadAllBytes(BoardPath);
            var running = new HashSet<uint>();
            for (int i = 0; i + 4 <= board.Length; i += 4)
            {
                uint stream = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(board.AsSpan(i));
                if (stream != 0)
                {
                    running.Add(stream);
                }
            }

            return running;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public WorkerState State => _state;

    public int InFlight => _inflightCount;

    public bool IsAccepting => _state == WorkerState.Ready && !_reclaiming;

    /// <summary>Start of its oldest running request; 0 when idle.</summary>
    public long BusySince => Volatile.Read(ref _busySince);

    public long ServiceTicks => Interlocked.Read(ref _serviceTicks);

    /// <summary>Arrival of the oldest request queued behind the running ones; 0 when none waits.</summary>
    public long OldestWaitingSince => Volatile.Read(ref _oldestWaitingSince);

    /// <summary>Refreshes the snapshots the dispatcher reads without the lock. Call under _sync after changing _inflight.</summary>
    private void SnapshotLocked()
    {
        long busy = 0;
        long waiting = 0;
        for (int i = 0; i < _inflight.Count; i++)
        {
            long started = _inflight[i].StartedAt;
            if (i < Concurrency)
            {
                if (started != 0 && (busy == 0 || started < busy))
                {
                    busy = started;
                }
            }
            else if (started == 0)
            {
                waiting = _inflight[i].ArrivedAt;
                break;
            }
        }

        Volatile.Write(ref _busySince, busy);
        Volatile.Write(ref _oldestWaitingSince, waiting);
        _inflightCount = _inflight.Count;
    }

    /// <summary>Requests it finished.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>The request running longest, and since when (for the timeout check and `lanner top`).</summary>
    internal (Exchange? Exchange, long StartedAt) OldestRunning()
    {
        lock (_sync)
        {
            Exchange? found = null;
            long oldest = 0;
            for (int i = 0; i < _inflight.Count && i < Concurrency; i++)
            {
                long started = _inflight[i].StartedAt;
                if (started != 0 && (oldest == 0 || started < oldest))
                {
                    oldest = started;
                    found = _inflight[i];
                }
            }

            return (found, oldest);
        }
    }

    /// <summary>Set when the app failed to load in this worker.</summary>
    public WorkerBootError? BootError { get; private set; }

    /// <summary>How the process ended; set once <see cref="RunAsync"/> completes.</summary>
    public WorkerExit? Exit { get; private set; }

    internal void SetBootError(WorkerBootError error)
    {
        lock (_sync)
        {
            _bootFailed = true;
        }

        BootError = error;
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    /// <summary>Starts the process, waits for it to end, and settles every request it held.</summary>
    internal async Task RunAsync(Func<Task<WorkerProcess>> launch)
    {
        WorkerProcess process;
        try
        {
            process = await launch().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or SpawnException)
        {
            WorkerLog.SpawnFailed(_log, Id, 0, ex.Message);
            lock (_sync)
            {
                _state = WorkerStates.Next(_state, WorkerTrigger.ProcessExited);
                _bootFailed = true;
            }

            Exit = new WorkerExit(WorkerExitReason.BootFailed, 127, null);
            BootError = new WorkerBootError($"the worker could not be started: {ex.Message}", "");
            _pool.OnBootFailed(this);
            _pool.OnExited(this);
            return;
        }

        _exited = process.Exit;
        _process = process.Process;
        Pid = process.Pid;
        WorkerLog.Booting(_log, Pid);
        if (_process is not null && _process.StartInfo.RedirectStandardOutput)
        {
            CaptureOutput(_process, _log, Id, Pid);
        }

        int exitCode = await process.Exit.ConfigureAwait(false);

        // The reader takes in what the worker wrote before it died (its last responses, a Reclaimed
        // frame) up to the end of the stream. Only once it has finished is it known which requests
        // are left: settling earlier could requeue a request the reader is handing back too.
        Task closed = _connectionClosed.Task;
        if (_socket is not null)
        {
            if (await Task.WhenAny(closed, Task.Delay(TimeSpan.FromSeconds(2), _time)).ConfigureAwait(false) != closed)
            {
                // Something else holds the socket open (a child the app forked): stop reading.
                CloseConnection();
            }

            // The reader ends as soon as its socket is closed; bounded all the same, so that a
            // worker can never keep the pool (and a shutdown) waiting forever.
            if (await Task.WhenAny(closed, Task.Delay(TimeSpan.FromSeconds(5), _time)).ConfigureAwait(false) != closed)
            {
                WorkerLog.ReaderDidNotEnd(_log, Id, Pid);
            }
        }

        List<Exchange> settled;
        bool neverConnected;
        lock (_sync)
        {
            // It ended, unasked, before it ever connected: not a Python worker at all (--python is
            // some other program) or an interpreter that cannot start. A TERM or INT from outside
            // (the whole group signalled while it started) is not its fault.
            neverConnected = _state == WorkerState.Spawned && !_stopRequested && !_bootFailed && !IsOutsideStop(exitCode)
                && !Options.Preload; // forked by the zygote, which is checked as it starts
            if (neverConnected)
            {
                _bootFailed = true;
                BootError = NeverConnected(Options, exitCode);
            }

            _state = WorkerStates.Next(_state, WorkerTrigger.ProcessExited);
            Exit = WorkerExit.Classify(exitCode, _stopRequested, _killedByLanner, _bootFailed, _protocolError);
            settled = [.. _inflight];
            _inflight.Clear();
            SnapshotLocked();
        }

        CloseConnection();
        Settle(settled);
        if (neverConnected)
        {
            _pool.OnBootFailed(this);
        }

        _pool.OnExited(this);
    }

    /// <summary>Killed by a TERM or INT: sent to the whole group, not a failure of the process.</summary>
    internal static bool IsOutsideStop(int exitCode) => exitCode - 128 is SignalNames.SIGTERM or SignalNames.SIGINT;

    /// <summary>The boot error of a process that ended before it ever connected to the master.</summary>
    internal static WorkerBootError NeverConnected(PoolOptions options, int exitCode) => new(
        $"the interpreter {options.PythonExecutable} exited with {WorkerExit.Classify(exitCode, false, false, false, false).Describe()} "
        + "before it connected (is --python a Python 3 interpreter?)", "");

    /// <summary>Starts a worker process directly (without --preload).</summary>
    internal static WorkerProcess StartProcess(ProcessStartInfo startInfo)
    {
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new SpawnException($"{startInfo.FileName}: Process.Start returned nothing");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new SpawnException($"cannot start the Python interpreter {startInfo.FileName}: {ex.Message}");
        }

        return new WorkerProcess(process.Id, WaitAsync(process), process);

        static async Task<int> WaitAsync(Process process)
        {
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            return process.ExitCode;
        }
    }

    /// <summary>--capture-output: the process's stdout and stderr to the log, line by line, tagged with the worker.</summary>
    internal static void CaptureOutput(Process process, ILogger log, int id, int pid)
    {
        void Log(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is not null)
            {
                WorkerLog.Output(log, id, pid, e.Data);
            }
        }

        process.OutputDataReceived += Log;
        process.ErrorDataReceived += Log;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>
    /// Fails the requests that had started — those on the scoreboard, and any whose head arrived —
    /// and hands the others back to be dispatched again: none lost, none run twice. Without a
    /// readable scoreboard, the first <see cref="Concurrency"/> in send order count as started.
    /// </summary>
    private void Settle(List<Exchange> held)
    {
        var again = new List<Exchange>();
        string? firstServing = null;
        HashSet<uint>? running = RunningFromBoard();
        for (int i = 0; i < held.Count; i++)
        {
            Exchange ex = held[i];
            bool mayHaveStarted = ex.HeadReceived || (running is null ? i < Concurrency : running.Contains(ex.StreamId));
            if (mayHaveStarted)
            {
                if (!ex.IsFinished)
                {
                    firstServing ??= ex.RequestLine;
                }

                ex.Fail(_protocolError ? ExchangeFailure.WorkerProtocolError : ExchangeFailure.WorkerDied,
                    $"worker {Id} (pid {Pid}) exited with {Exit!.Describe()}");
            }
            else
            {
                ex.Worker = null;
                ex.StartedAt = 0;
                again.Add(ex);
            }
        }

        if (Exit!.Reason is WorkerExitReason.Crashed or WorkerExitReason.Signaled && !_timedOut)
        {
            string dump = ReadDump();
            WorkerLog.DiedUnexpectedly(_log, Id, Pid, Exit.Describe(),
                (firstServing is null ? "" : $" while serving {firstServing}") + (dump.Length == 0 ? "" : "\n" + dump));
        }
        else if (Exit.Reason is WorkerExitReason.Stopped)
        {
            WorkerLog.Exited(_log, Pid);
        }

        if (again.Count > 0)
        {
            _pool.Events.Requeue(again);
        }
    }

    /// <summary>Takes the connection the worker opened (after its Hello) and sends its configuration.</summary>
    internal void Attach(Socket socket, WorkerHello hello, ReadOnlyMemory<byte> leftover, ReadOnlySpan<byte> config)
    {
        bool stoppedBeforeConnecting;
        using (FlushScope.Enter())
        {
            lock (_sync)
            {
                socket.Blocking = false;
                _socket = socket;
                _writer = new FrameWriter(socket, OnWriteFailed);
                PythonVersion = hello.PythonVersion;
                if (Pid == 0)
                {
                    Pid = hello.Pid;
                }

                // Stopped (a reload, a recycle, shutdown) before it connected: it has nothing to
                // serve, so it gets no configuration; the closed connection makes it exit.
                stoppedBeforeConnecting = _stopRequested;
                if (!stoppedBeforeConnecting)
                {
                    _state = WorkerStates.Next(_state, WorkerTrigger.Connected);
                    _writer.Write(FrameType.Config, FrameFlags.None, 0, config);
                }
            }
        }

        _ = ReadLoopAsync(socket, leftover);
        if (stoppedBeforeConnecting)
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
        }
    }

    /// <summary>Asks the worker to finish what it holds and exit; it is killed if it takes longer than <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        bool wasReady;
        using (FlushScope.Enter())
        {
            lock (_sync)
            {
                if (_state == WorkerState.Exited || _stopRequested)
                {
                    return;
                }

                _stopRequested = true;
                wasReady = _state == WorkerState.Ready;
                _state = WorkerStates.Next(_state, WorkerTrigger.Drain);
                _writer?.Write(FrameType.Stop, FrameFlags.None, 0, default);
            }
        }

        if (wasReady)
        {
            _pool.Events.WorkerUnavailable(this);
        }

        if (_writer is null)
        {
            // Not connected yet: nothing to finish.
            Signal(SignalNames.SIGTERM);
        }

        _ = KillAfterAsync(grace);
    }

    private async Task KillAfterAsync(TimeSpan grace)
    {
        try
        {
            await Task.Delay(grace, _time).ConfigureAwait(false);
        }
        catch (ArgumentOutOfRangeException)
        {
            return;
        }

        if (State != WorkerState.Exited)
        {
            WorkerLog.StopTimeout(_log, Id, Pid);
            Kill();
        }
    }

    /// <summary>Sends SIGKILL (if it is still alive).</summary>
    public void Kill()
    {
        lock (_sync)
        {
            if (_state == WorkerState.Exited || Pid == 0)
            {
                return;
            }

            _killedByLanner = true;
        }

        Native.SendSignal(Pid, SignalNames.SIGKILL);
    }

    /// <summary>Sends a signal to the worker process.</summary>
    public bool Signal(int signal) => Native.SendSignal(Pid, signal);

    // ---- supervision ------------------------------------------------------------------------

    /// <summary>
    /// The request has run past --timeout: answer 504, hand what waits behind it to other
    /// workers, log the worker's Python stack (gunicorn's "WORKER TIMEOUT" line), then stop the
    /// worker — SIGTERM (SIGABRT when a worker_abort hook wants to run), and SIGKILL after
    /// <see cref="Supervision.KillGrace"/>.
    /// </summary>
    internal void TimeOut(Exchange exchange, TimeSpan timeout)
    {
        bool wasReady;
        lock (_sync)
        {
            if (_timedOut || _state == WorkerState.Exited)
            {
                return;
            }

            _timedOut = true;
            _stopRequested = true;
            wasReady = _state == WorkerState.Ready;
            if (_state != WorkerState.Draining)
            {
                _state = WorkerStates.Next(_state, WorkerTrigger.Drain);
            }
        }

        if (wasReady)
        {
            _pool.Events.WorkerUnavailable(this);
        }

        exchange.Fail(ExchangeFailure.Timeout, $"it ran past the {timeout.TotalSeconds:0.###} s timeout");
        ReclaimQueued();
        _ = DumpThenStopAsync(exchange, timeout);
    }

    private async Task DumpThenStopAsync(Exchange exchange, TimeSpan timeout)
    {
        string stack = await DumpStackAsync().ConfigureAwait(false);
        WorkerLog.Timeout(_log, Pid, Id, exchange.RequestLine, timeout.TotalSeconds,
            stack.Length == 0 ? " (no Python stack could be read)" : "\n" + stack);
        Signal(_pool.Options.AbortHook ? SignalNames.SIGABRT : SignalNames.SIGTERM);
        _ = KillAfterAsync(Supervision.KillGrace);
    }

    /// <summary>Asks faulthandler (SIGUSR1) for the stack of every thread and reads what it wrote.</summary>
    internal async Task<string> DumpStackAsync()
    {
        if (DumpPath is null || !Signal(SignalNames.SIGUSR1))
        {
            return "";
        }

        // faulthandler writes from the signal handler, at once; wait until the file stops growing.
        long last = -1;
        for (int i = 0; i < 50; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time).ConfigureAwait(false);
            long size = new FileInfo(DumpPath).Length;
            if (size > _dumpOffset && size == last)
            {
                break;
            }

            last = size;
        }

        return ReadDump();
    }

    /// <summary>What faulthandler wrote since the last read.</summary>
    private string ReadDump()
    {
        if (DumpPath is null || !File.Exists(DumpPath))
        {
            return "";
        }

        try
        {
            using var file = new FileStream(DumpPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (file.Length <= _dumpOffset)
            {
                return "";
            }

            file.Position = _dumpOffset;
            using var reader = new StreamReader(file);
            string text = reader.ReadToEnd();
            _dumpOffset = file.Length;
            return text.TrimEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Resident memory of the process in bytes, or 0 if it cannot be read.</summary>
    internal long ResidentBytes()
    {
        try
        {
            string[] fields = File.ReadAllText($"/proc/{Pid}/statm").Split(' ');
            return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private void ReclaimQueued()
    {
        using FlushScope sends = FlushScope.Enter();
        lock (_sync)
        {
            if (_writer is null || _inflight.Count <= Concurrency || _reclaiming)
            {
                return;
            }

            _reclaiming = true;
            int pid = Pid;
            _writer.Write(FrameType.Reclaim, FrameFlags.None, 0, default, () => Native.SendSignal(pid, SignalNames.SIGURG));
        }
    }

    // ---- dispatch ----------------------------------------------------------------------------

    public bool TrySend(Exchange exchange)
    {
        lock (_sync)
        {
            if (_state != WorkerState.Ready || _reclaiming || _writer is null)
            {
                return false;
            }

            uint stream = ++_nextStream;
            if (stream == 0)
            {
                stream = ++_nextStream;
            }

            // An exchange has one owner at a time (the queue, or one worker).
            Debug.Assert(exchange.Worker is null, $"{exchange.RequestLine} is already on worker {exchange.Worker?.Id}");
            FrameFlags flags = exchange.RequestBodyComplete ? FrameFlags.End : FrameFlags.None;
            if (!_writer.Write(FrameType.Request, flags, stream, exchange.RequestPayload.WrittenSpan))
            {
                // The connection is gone (the process is dying): take nothing more.
                _state = WorkerStates.Next(_state, WorkerTrigger.Drain);
                return false;
            }

            exchange.StreamId = stream;
            exchange.Worker = this;
            exchange.HeadReceived = false;
            exchange.StartedAt = _inflight.Count < Concurrency ? _time.GetTimestamp() : 0;
            if (exchange.StartedAt != 0)
            {
                exchange.QueueWaitTicks = exchange.StartedAt - exchange.ArrivedAt;
            }
            _inflight.Add(exchange);
            SnapshotLocked();
            return true;
        }
    }

    public void Abort(Exchange exchange)
    {
        exchange.MarkClientAborted();
        using FlushScope sends = FlushScope.Enter();
        lock (_sync)
        {
            if (exchange.Worker == this && _inflight.Contains(exchange))
            {
                _writer?.Write(FrameType.Abort, FrameFlags.None, exchange.StreamId, default);
            }
        }
    }

    public bool RequestReclaim()
    {
        using FlushScope sends = FlushScope.Enter();
        lock (_sync)
        {
            if (_state != WorkerState.Ready || _reclaiming || _writer is null || _inflight.Count <= Concurrency)
            {
                return false;
            }

            _reclaiming = true;
            // A single-threaded worker busy in the app reads the Reclaim frame from its SIGURG
            // handler: the signal goes once the frame is in the kernel, never before.
            int pid = Pid;
            _writer.Write(FrameType.Reclaim, FrameFlags.None, 0, default, () => Native.SendSignal(pid, SignalNames.SIGURG));
        }

        return true;
    }

    /// <summary>The front's answer to a ResponseFile frame: whether it opened the file.</summary>
    public void AckFile(Exchange exchange, bool opened)
    {
        using (FlushScope.Enter())
        {
            Span<byte> payload = [opened ? (byte)1 : (byte)0];
            lock (_sync)
            {
                _writer?.Write(FrameType.FileAck, FrameFlags.None, exchange.StreamId, payload);
            }
        }

        if (opened)
        {
            Complete(exchange);
        }
    }

    // ---- reading -----------------------------------------------------------------------------

    private async Task ReadLoopAsync(Socket socket, ReadOnlyMemory<byte> leftover)
    {
        int maxPayload = Options.MaxFramePayload;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        int start = 0;
        int end = leftover.Length;
        leftover.CopyTo(buffer);
        var backedUp = new List<Exchange>();
        try
        {
            while (true)
            {
                // Take every complete frame in the buffer; what that makes us send to this or other
                // workers (the next requests) leaves in one send per worker at the end.
                using (FlushScope.Enter())
                while (true)
                {
                    ReadOnlySpan<byte> available = buffer.AsSpan(start, end - start);
                    if (!FrameParser.TryReadHeader(available, FrameDirection.WorkerToMaster, maxPayload, out FrameHeader header))
                    {
                        break;
                    }

                    int total = FrameHeader.Size + header.Length;
                    if (available.Length < total)
                    {
                        if (total > buffer.Length)
                        {
                            byte[] bigger = ArrayPool<byte>.Shared.Rent(total);
                            available.CopyTo(bigger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = bigger;
                            end -= start;
                            start = 0;
                        }

                        break;
                    }

                    HandleFrame(header, available.Slice(FrameHeader.Size, header.Length), backedUp);
                    start += total;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (end == buffer.Length)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }

                // A client that reads slowly holds the response: stop reading until it catches up.
                foreach (Exchange ex in backedUp)
                {
                    await ex.WaitForRoomAsync().ConfigureAwait(false);
                }

                backedUp.Clear();
                int n = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                end += n;
            }
        }
        catch (ProtocolException ex)
        {
            OnProtocolError(ex.Message);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The socket was closed under us: the process is gone or being killed.
        }
        catch (Exception ex)
        {
            // A bug of ours: say so loudly, and replace the worker rather than leave it half-handled.
            WorkerLog.ReadLoopFailed(_log, Id, Pid, ex);
            Kill();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _connectionClosed.TrySetResult();
            // A worker that closed its end but lives on is broken: it must not linger.
            if (_exited is { IsCompleted: false })
            {
                _ = KillAfterAsync(TimeSpan.FromSeconds(2));
            }
        }
    }

    private void HandleFrame(in FrameHeader header, ReadOnlySpan<byte> payload, List<Exchange> backedUp)
    {
        switch (header.Type)
        {
            case FrameType.Response:
            case FrameType.ResponseBody:
            {
                Exchange ex = FindOrThrow(header);
                if (header.Type == FrameType.Response)
                {
                    ex.HeadReceived = true;
                }

                if (header.IsEnd)
                {
                    // Room first: the response may be written inline by Post, and the next request dispatched.
                    Complete(ex);
                }

                ex.Post(ResponseEvent.Copy(header.Type == FrameType.Response ? ResponseEventKind.Head : ResponseEventKind.Body, payload, header.IsEnd));
                if (!header.IsEnd && ex.IsBackedUp)
                {
                    backedUp.Add(ex);
                }

                break;
            }

            case FrameType.ResponseFile:
            {
                Exchange ex = FindOrThrow(header);
                ex.Post(ResponseEvent.Copy(ResponseEventKind.File, payload, end: false, Pid));
                break;
            }

            case FrameType.AppError:
            {
                Exchange ex = FindOrThrow(header);
                string traceback = System.Text.Encoding.UTF8.GetString(payload).TrimEnd();
                WorkerLog.AppError(_log, ex.RequestLine, Id, Pid, traceback);
                Complete(ex);
                ex.Post(new ResponseEvent(ResponseEventKind.AppError, null, 0, End: true, Text: traceback));
                break;
            }

            case FrameType.BodyPull:
            {
                Exchange ex = FindOrThrow(header);
                _ = PumpBodyAsync(ex, header.StreamId, Payloads.ReadUInt32(payload));
                break;
            }

            case FrameType.Log:
            {
                (WorkerLogLevel level, string text) = Payloads.ReadLog(payload);
                Exchange? ex = header.StreamId == 0 ? null : Find(header.StreamId);
                string line = ex is null ? text : $"{ex.RequestLine}: {text}";
                WorkerLog.WorkerMessage(_log, ToLogLevel(level), Id, Pid, line);
                break;
            }

            case FrameType.Reclaimed:
                OnReclaimed(Payloads.ReadStreamIds(payload));
                break;

            case FrameType.Ready:
                OnReady();
                break;

            case FrameType.BootError:
                OnBootError(WorkerBootError.Decode(payload));
                break;

            default:
                throw new ProtocolException(ProtocolError.UnexpectedFrame, $"unexpected {header.Type} frame");
        }
    }

    private Exchange? Find(uint stream)
    {
        lock (_sync)
        {
            foreach (Exchange ex in _inflight)
            {
                if (ex.StreamId == stream)
                {
                    return ex;
                }
            }
        }

        return null;
    }

    private Exchange FindOrThrow(in FrameHeader header) =>
        Find(header.StreamId)
        ?? throw new ProtocolException(ProtocolError.UnexpectedFrame, $"{header.Type} frame for unknown stream {header.StreamId}");

    /// <summary>Removes a finished exchange; the next queued one starts; the worker has room again.</summary>
    private void Complete(Exchange exchange)
    {
        bool accepting;
        long served;
        lock (_sync)
        {
            int index = _inflight.IndexOf(exchange);
            if (index < 0)
            {
                return;
            }

            _inflight.RemoveAt(index);
            long now = _time.GetTimestamp();
            if (exchange.StartedAt != 0)
            {
                long took = now - exchange.StartedAt;
                _serviceTicks = _serviceTicks == 0 ? took : _serviceTicks + ((took - _serviceTicks) / 8);
            }

            for (int i = 0; i < _inflight.Count && i < Concurrency; i++)
            {
                if (_inflight[i].StartedAt == 0)
                {
                    _inflight[i].StartedAt = now;
                    _inflight[i].QueueWaitTicks = now - _inflight[i].ArrivedAt;
                }
            }

            SnapshotLocked();
            accepting = _state == WorkerState.Ready && !_reclaiming;
            served = ++_served;
        }

        if (served == RecycleLimit)
        {
            _pool.Recycle(this, $"it served {served} requests (--max-requests)");
        }

        if (accepting)
        {
            _pool.Events.WorkerAvailable(this);
        }
    }

    private void OnReady()
    {
        lock (_sync)
        {
            if (_state == WorkerState.Draining)
            {
                return; // told to stop while booting: it will see the Stop frame
            }

            if (_state != WorkerState.Booting)
            {
                throw new ProtocolException(ProtocolError.UnexpectedFrame, $"Ready while {_state}");
            }

            _state = WorkerStates.Next(_state, WorkerTrigger.AppLoaded);
            WasReady = true;
        }

        WorkerLog.Ready(_log, Id, Pid, PythonVersion);
        _pool.OnReady(this);
    }

    private void OnBootError(WorkerBootError error)
    {
        lock (_sync)
        {
            if (_state is not (WorkerState.Booting or WorkerState.Draining))
            {
                throw new ProtocolException(ProtocolError.UnexpectedFrame, $"BootError while {_state}");
            }

            _bootFailed = true;
            if (_state == WorkerState.Booting)
            {
                _state = WorkerStates.Next(_state, WorkerTrigger.BootFailed);
            }
        }

        BootError = error;
        _pool.OnBootFailed(this);
    }

    private void OnReclaimed(uint[] streams)
    {
        var back = new List<Exchange>(streams.Length);
        bool accepting;
        lock (_sync)
        {
            foreach (uint stream in streams)
            {
                int index = _inflight.FindIndex(e => e.StreamId == stream);
                if (index < 0)
                {
                    throw new ProtocolException(ProtocolError.UnexpectedFrame, $"Reclaimed unknown stream {stream}");
                }

                Exchange ex = _inflight[index];
                _inflight.RemoveAt(index);
                ex.Worker = null;
                ex.StartedAt = 0;
                back.Add(ex);
            }

            SnapshotLocked();
            _reclaiming = false;
            accepting = _state == WorkerState.Ready;
        }

        if (back.Count > 0)
        {
            WorkerLog.Reclaimed(_log, Id, Pid, back.Count);
            _pool.Events.Requeue(back);
        }

        if (accepting)
        {
            _pool.Events.WorkerAvailable(this);
        }
    }

    /// <summary>Answers one BodyPull: reads what the client has sent (up to the count asked) and forwards it.</summary>
    private async Task PumpBodyAsync(Exchange exchange, uint stream, int wanted)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Clamp(wanted, 1, 1024 * 1024));
        try
        {
            int read = 0;
            bool end;
            if (exchange.Body is null || exchange.RequestBodyComplete)
            {
                end = true;
            }
            else
            {
                try
                {
                    read = await exchange.Body.ReadAsync(buffer.AsMemory(0, Math.Min(wanted, buffer.Length)), CancellationToken.None).ConfigureAwait(false);
                    end = read == 0;
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException)
                {
                    // The client went away or sent a broken body: the app sees ClientDisconnected.
                    Abort(exchange);
                    return;
                }
            }

            FrameWriter? writer;
            lock (_sync)
            {
                writer = _writer;
            }

            writer?.Write(FrameType.RequestBody, end ? FrameFlags.End : FrameFlags.None, stream, buffer.AsSpan(0, read));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static LogLevel ToLogLevel(WorkerLogLevel level) => level switch
    {
        WorkerLogLevel.Debug => LogLevel.Debug,
        WorkerLogLevel.Info => LogLevel.Information,
        WorkerLogLevel.Warning => LogLevel.Warning,
        WorkerLogLevel.Error => LogLevel.Error,
        _ => LogLevel.Critical,
    };

    private void OnProtocolError(string problem)
    {
        bool wasReady;
        lock (_sync)
        {
            _protocolError = true;
            wasReady = _state == WorkerState.Ready;
            if (_state != WorkerState.Exited && _state != WorkerState.Draining)
            {
                _state = WorkerStates.Next(_state, WorkerTrigger.Drain);
            }
        }

        WorkerLog.ProtocolViolation(_log, Id, Pid, problem);
        if (wasReady)
        {
            _pool.Events.WorkerUnavailable(this);
        }

        Kill();
    }

    /// <summary>
    /// A send failed: the worker is dying. Stop giving it work, but keep reading: its last
    /// responses may still wait in the socket, and the reader drains them up to the end.
    /// </summary>
    private void OnWriteFailed(Exception ex)
    {
        bool wasReady;
        lock (_sync)
        {
            wasReady = _state == WorkerState.Ready;
            if (_state is WorkerState.Ready or WorkerState.Booting or WorkerState.Spawned)
            {
                _state = WorkerStates.Next(_state, WorkerTrigger.Drain);
            }
        }

        if (wasReady)
        {
            _pool.Events.WorkerUnavailable(this);
        }
    }

    private void CloseConnection()
    {
        Socket? socket;
        lock (_sync)
        {
            socket = _socket;
            _writer?.Dispose();
        }

        try
        {
            socket?.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        CloseConnection();
        _process?.Dispose();
        foreach (string? path in new[] { DumpPath, BoardPath })
        {
            try
            {
                if (path is not null)
                {
                    File.Delete(path);
                }
            }
            catch (IOException)
            {
            }
        }
    }
}
