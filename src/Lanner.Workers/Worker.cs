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
/// sent to this worker that have not ended. A single-threaded worker serves them in that order,
/// so when it dies the first <see cref="Concurrency"/> of them may have started and the rest have not.
/// </remarks>
public sealed class Worker : IWorkerHandle, IDisposable
{
    private readonly WorkerPool _pool;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly object _sync = new();
    private readonly List<Exchange> _inflight = [];
    private readonly TaskCompletionSource _connectionClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WorkerState _state = WorkerState.Spawned;
    private Process? _process;
    private Socket? _socket;
    private FrameWriter? _writer;
    private uint _nextStream;
    private long _busySince;
    private bool _reclaiming;
    private bool _stopRequested;
    private bool _killedByLanner;
    private bool _bootFailed;
    private bool _protocolError;
    private long _served;
    private long _serviceTicks;

    internal Worker(int id, int concurrency, WorkerPool pool, TimeProvider time, ILogger log)
    {
        Id = id;
        Concurrency = concurrency;
        _pool = pool;
        _time = time;
        _log = log;
    }

    public int Id { get; }

    public int Pid { get; private set; }

    public int Concurrency { get; }

    public string PythonVersion { get; private set; } = "?";

    public WorkerState State
    {
        get
        {
            lock (_sync)
            {
                return _state;
            }
        }
    }

    public int InFlight
    {
        get
        {
            lock (_sync)
            {
                return _inflight.Count;
            }
        }
    }

    public bool IsAccepting
    {
        get
        {
            lock (_sync)
            {
                return _state == WorkerState.Ready && !_reclaiming;
            }
        }
    }

    public long BusySince
    {
        get
        {
            lock (_sync)
            {
                return _busySince;
            }
        }
    }

    public long ServiceTicks => Interlocked.Read(ref _serviceTicks);

    /// <summary>Requests it finished.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Set when the app failed to load in this worker.</summary>
    public WorkerBootError? BootError { get; private set; }

    internal void SetBootError(WorkerBootError error)
    {
        lock (_sync)
        {
            _bootFailed = true;
        }

        BootError = error;
    }

    /// <summary>How the process ended; set once <see cref="RunAsync"/> completes.</summary>
    public WorkerExit? Exit { get; private set; }

    // ---- lifecycle ---------------------------------------------------------------------------

    /// <summary>Starts the process, waits for it to end, and settles every request it held.</summary>
    internal async Task RunAsync(ProcessStartInfo startInfo, CancellationToken cancellationToken)
    {
        try
        {
            _process = Process.Start(startInfo) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            WorkerLog.SpawnFailed(_log, Id, 0, $"{startInfo.FileName}: {ex.Message}");
            lock (_sync)
            {
                _state = WorkerStates.Next(_state, WorkerTrigger.ProcessExited);
            }

            Exit = new WorkerExit(WorkerExitReason.BootFailed, 127, null);
            BootError = new WorkerBootError($"cannot start the Python interpreter {startInfo.FileName}: {ex.Message}", "");
            _pool.OnBootFailed(this);
            return;
        }

        Pid = _process.Id;
        WorkerLog.Booting(_log, Pid);
        await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);

        // Let the reader take in what the worker wrote before it died (its last responses).
        Task closed = _connectionClosed.Task;
        if (_socket is not null && await Task.WhenAny(closed, Task.Delay(500, CancellationToken.None)).ConfigureAwait(false) != closed)
        {
            CloseConnection();
        }

        int exitCode = _process.ExitCode;
        List<Exchange> settled;
        lock (_sync)
        {
            _state = WorkerStates.Next(_state, WorkerTrigger.ProcessExited);
            Exit = WorkerExit.Classify(exitCode, _stopRequested, _killedByLanner, _bootFailed, _protocolError);
            settled = [.. _inflight];
            _inflight.Clear();
            _busySince = 0;
        }

        CloseConnection();
        Settle(settled);
        _pool.OnExited(this);
    }

    /// <summary>
    /// Fails the requests that may have started (the first <see cref="Concurrency"/> in send
    /// order, and any whose head arrived) and hands the others back to be dispatched again.
    /// </summary>
    private void Settle(List<Exchange> held)
    {
        var again = new List<Exchange>();
        string? firstServing = null;
        for (int i = 0; i < held.Count; i++)
        {
            Exchange ex = held[i];
            bool mayHaveStarted = i < Concurrency || ex.HeadReceived;
            if (mayHaveStarted)
            {
                firstServing ??= ex.RequestLine;
                ex.Fail(_protocolError ? ExchangeFailure.WorkerProtocolError : ExchangeFailure.WorkerDied,
                    $"worker {Id} (pid {Pid}) exited with {Exit!.Describe()}");
            }
            else
            {
                ex.Worker = null;
                again.Add(ex);
            }
        }

        if (Exit!.Reason is WorkerExitReason.Crashed or WorkerExitReason.Signaled)
        {
            WorkerLog.DiedUnexpectedly(_log, Id, Pid, Exit.Describe(), firstServing is null ? "" : $" while serving {firstServing}");
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
        using FlushScope sends = FlushScope.Enter();
        lock (_sync)
        {
            socket.Blocking = false;
            _socket = socket;
            _writer = new FrameWriter(socket, OnWriteFailed);
            PythonVersion = hello.PythonVersion;
            _state = WorkerStates.Next(_state, WorkerTrigger.Connected);
            _writer.Write(FrameType.Config, FrameFlags.None, 0, config);
        }

        _ = ReadLoopAsync(socket, leftover);
    }

    /// <summary>Asks the worker to finish what it holds and exit.</summary>
    public void Stop()
    {
        using FlushScope sends = FlushScope.Enter();
        lock (_sync)
        {
            if (_state == WorkerState.Exited)
            {
                return;
            }

            _stopRequested = true;
            bool wasReady = _state == WorkerState.Ready;
            _state = WorkerStates.Next(_state, WorkerTrigger.Drain);
            _writer?.Write(FrameType.Stop, FrameFlags.None, 0, default);
            if (!wasReady)
            {
                return;
            }
        }

        _pool.Events.WorkerUnavailable(this);
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

            exchange.StreamId = stream;
            exchange.Worker = this;
            exchange.HeadReceived = false;
            if (_inflight.Count == 0)
            {
                _busySince = _time.GetTimestamp();
            }

            _inflight.Add(exchange);
            FrameFlags flags = exchange.RequestBodyComplete ? FrameFlags.End : FrameFlags.None;
            return _writer.Write(FrameType.Request, flags, stream, exchange.RequestPayload.WrittenSpan);
        }
    }

    public void Abort(Exchange exchange)
    {
        using FlushScope sends = FlushScope.Enter();
        exchange.MarkClientAborted();
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
        using FlushScope sends = FlushScope.Enter();
        Span<byte> payload = [opened ? (byte)1 : (byte)0];
        lock (_sync)
        {
            _writer?.Write(FrameType.FileAck, FrameFlags.None, exchange.StreamId, payload);
        }

        if (opened)
        {
            Complete(exchange);
        }
    }

    // ---- reading -----------------------------------------------------------------------------

    private async Task ReadLoopAsync(Socket socket, ReadOnlyMemory<byte> leftover)
    {
        int maxPayload = _pool.Options.MaxFramePayload;
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
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _connectionClosed.TrySetResult();
            // A worker that closed its end but lives on is broken: it must not linger.
            if (_process is { HasExited: false })
            {
                _ = KillIfLingeringAsync();
            }
        }
    }

    private async Task KillIfLingeringAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(2), _time).ConfigureAwait(false);
        if (_process is { HasExited: false })
        {
            Kill();
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

    /// <summary>Removes a finished exchange; the worker has room again.</summary>
    private void Complete(Exchange exchange)
    {
        bool accepting;
        lock (_sync)
        {
            if (!_inflight.Remove(exchange))
            {
                return;
            }

            long now = _time.GetTimestamp();
            long took = now - _busySince;
            _serviceTicks = _serviceTicks == 0 ? took : _serviceTicks + ((took - _serviceTicks) / 8);
            _busySince = _inflight.Count > 0 ? now : 0;
            accepting = _state == WorkerState.Ready && !_reclaiming;
        }

        Interlocked.Increment(ref _served);
        if (accepting)
        {
            _pool.Events.WorkerAvailable(this);
        }
    }

    private void OnReady()
    {
        lock (_sync)
        {
            if (_state != WorkerState.Booting)
            {
                throw new ProtocolException(ProtocolError.UnexpectedFrame, $"Ready while {_state}");
            }

            _state = WorkerStates.Next(_state, WorkerTrigger.AppLoaded);
        }

        WorkerLog.Ready(_log, Id, Pid, PythonVersion);
        _pool.OnReady(this);
        _pool.Events.WorkerAvailable(this);
    }

    private void OnBootError(WorkerBootError error)
    {
        lock (_sync)
        {
            if (_state != WorkerState.Booting)
            {
                throw new ProtocolException(ProtocolError.UnexpectedFrame, $"BootError while {_state}");
            }

            _bootFailed = true;
            _state = WorkerStates.Next(_state, WorkerTrigger.BootFailed);
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
                back.Add(ex);
            }

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
        lock (_sync)
        {
            _protocolError = true;
        }

        WorkerLog.ProtocolViolation(_log, Id, Pid, problem);
        bool wasReady = State == WorkerState.Ready;
        lock (_sync)
        {
            if (_state != WorkerState.Exited)
            {
                _state = WorkerStates.Next(_state, WorkerTrigger.Drain);
            }
        }

        if (wasReady)
        {
            _pool.Events.WorkerUnavailable(this);
        }

        Kill();
    }

    private void OnWriteFailed(Exception ex) => CloseConnection();

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
    }
}
