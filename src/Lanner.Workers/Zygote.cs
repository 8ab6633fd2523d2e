using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Lanner.Protocol;
using Microsoft.Extensions.Logging;

namespace Lanner.Workers;

/// <summary>
/// --preload: one Python process per configuration generation that imported the app and forks the
/// workers on demand. Created and run by the <see cref="WorkerPool"/>; it is stopped once no
/// worker of its generation is left, and disposed when <see cref="RunAsync"/> returns.
/// </summary>
internal sealed class Zygote : IDisposable
{
    private readonly WorkerPool _pool;
    private readonly ILogger _log;
    private readonly object _sync = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<SpawnResult>> _spawns = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<int>> _children = new();
    private Socket? _socket;
    private FrameWriter? _writer;
    private Process? _process;
    private bool _stopRequested;

    /// <summary>Lanner asked the zygote to stop.</summary>
    internal bool StopRequested => Volatile.Read(ref _stopRequested);

    public Zygote(int id, int generation, PoolOptions options, WorkerPool pool, ILogger log)
    {
        Id = id;
        Generation = generation;
        Options = options;
        _pool = pool;
        _log = log;
    }

    public int Id { get; }

    public int Generation { get; }

    public PoolOptions Options { get; }

    public int Pid { get; private set; }

    /// <summary>Spawned → Booting → Ready, or → Draining (failed to load, or stopping) → Exited.</summary>
    public WorkerState State { get; private set; } = WorkerState.Spawned;

    public WorkerBootError? BootError { get; private set; }

    public WorkerExit? Exit { get; private set; }

    internal string? DumpPath { get; init; }

    public async Task RunAsync(ProcessStartInfo startInfo)
    {
        WorkerProcess process;
        try
        {
            process = Worker.StartProcess(startInfo);
        }
        catch (SpawnException ex)
        {
            BootError = new WorkerBootError(ex.Message, "");
            State = WorkerState.Exited;
            _pool.OnZygoteFailed(this);
            return;
        }

        _process = process.Process;
        Pid = process.Pid;
        WorkerLog.BootingZygote(_log, Pid);
        if (_process is not null && startInfo.RedirectStandardOutput)
        {
            // Forked workers inherit these pipes: their lines arrive here (tagged with the zygote).
            Worker.CaptureOutput(_process, _log, Id, Pid);
        }
        int code = await process.Exit.ConfigureAwait(false);
        bool neverConnected;
        lock (_sync)
        {
            // As a worker: ending unasked before it connected is a boot failure, not a crash.
            neverConnected = State == WorkerState.Spawned && !_stopRequested && BootError is null && !Worker.IsOutsideStop(code);
            if (neverConnected)
            {
                BootError = Worker.NeverConnected(Options, code);
            }

            State = WorkerState.Exited;
            Exit = WorkerExit.Classify(code, _stopRequested, false, BootError is not null, false);
        }

        _socket?.Dispose();
        // Its workers die with it (PR_SET_PDEATHSIG); nobody reports how any more.
        foreach (var (_, spawn) in _spawns)
        {
            spawn.TrySetResult(new SpawnResult(0, 0, "the zygote exited"));
        }

        foreach (var (_, child) in _children)
        {
            child.TrySetResult(128 + SignalNames.SIGKILL);
        }

        if (neverConnected)
        {
            _pool.OnZygoteFailed(this);
        }
        else if (BootError is null && !_stopRequested)
        {
            WorkerLog.ZygoteDied(_log, Pid, Exit.Describe());
        }

        _pool.OnZygoteExited(this);
    }

    public void Attach(Socket socket, ReadOnlyMemory<byte> leftover, ReadOnlySpan<byte> config)
    {
        using FlushScope sends = FlushScope.Enter();
        lock (_sync)
        {
            socket.Blocking = false;
            _socket = socket;
            _writer = new FrameWriter(socket, _ => { });
            _writer.Write(FrameType.Config, FrameFlags.None, 0, config);
            if (_stopRequested)
            {
                // Stopped before it connected (a reload right after the start): it exits once booted.
                _writer.Write(FrameType.Stop, FrameFlags.None, 0, default);
            }
            else
            {
                State = WorkerState.Booting;
            }
        }

        _ = ReadLoopAsync(socket, leftover);
    }

    /// <summary>Forks a worker with this id; returns its process once the zygote says which pid it has.</summary>
    public async Task<WorkerProcess> SpawnAsync(int workerId)
    {
        var spawned = new TaskCompletionSource<SpawnResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _spawns[workerId] = spawned;
        FrameWriter? writer;
        lock (_sync)
        {
            writer = State == WorkerState.Ready ? _writer : null;
        }

        if (writer is null || !writer.WriteUInt32(FrameType.Spawn, 0, (uint)workerId))
        {
            _spawns.TryRemove(workerId, out _);
            throw new SpawnException("the zygote is not ready");
        }

        SpawnResult result = await spawned.Task.ConfigureAwait(false);
        _spawns.TryRemove(workerId, out _);
        if (result.Pid == 0)
        {
            throw new SpawnException($"the zygote could not fork: {result.Error}");
        }

        TaskCompletionSource<int> exit = _children.GetOrAdd(result.Pid, _ => new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously));
        return new WorkerProcess(result.Pid, RemoveWhenDone(result.Pid, exit.Task), null);
    }

    private async Task<int> RemoveWhenDone(int pid, Task<int> exit)
    {
        int code = await exit.ConfigureAwait(false);
        _children.TryRemove(pid, out _);
        return code;
    }

    /// <summary>Asks it to exit once its workers are gone.</summary>
    public void Stop()
    {
        lock (_sync)
        {
            if (_stopRequested || State == WorkerState.Exited)
            {
                return;
            }

            _stopRequested = true;
            if (State != WorkerState.Draining)
            {
                State = WorkerState.Draining;
            }
        }

        using (FlushScope.Enter())
        {
            _writer?.Write(FrameType.Stop, FrameFlags.None, 0, default);
        }

        if (_writer is null)
        {
            Native.SendSignal(Pid, SignalNames.SIGTERM);
        }
    }

    public void Kill() => Native.SendSignal(Pid, SignalNames.SIGKILL);

    private async Task ReadLoopAsync(Socket socket, ReadOnlyMemory<byte> leftover)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        int end = leftover.Length;
        leftover.CopyTo(buffer);
        try
        {
            while (true)
            {
                int start = 0;
                while (FrameParser.TryReadHeader(buffer.AsSpan(start, end - start), FrameDirection.WorkerToMaster, buffer.Length - FrameHeader.Size, out FrameHeader header)
                       && end - start >= FrameHeader.Size + header.Length)
                {
                    Handle(header, buffer.AsSpan(start + FrameHeader.Size, header.Length));
                    start += FrameHeader.Size + header.Length;
                }

                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                int n = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                end += n;
            }
        }
        catch (ProtocolException ex)
        {
            WorkerLog.ProtocolViolation(_log, Id, Pid, ex.Message);
            Kill();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Handle(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        switch (header.Type)
        {
            case FrameType.Ready:
                lock (_sync)
                {
                    State = WorkerState.Ready;
                }

                _pool.OnZygoteReady(this);
                break;
            case FrameType.BootError:
                BootError = WorkerBootError.Decode(payload);
                lock (_sync)
                {
                    State = WorkerState.Draining;
                }

                _pool.OnZygoteFailed(this);
                break;
            case FrameType.Spawned:
                SpawnResult spawned = SpawnResult.Decode(payload);
                if (_spawns.TryGetValue(spawned.WorkerId, out var waiting))
                {
                    waiting.TrySetResult(spawned);
                }

                break;
            case FrameType.ChildExit:
                ChildExit exit = ChildExit.Decode(payload);
                _children.GetOrAdd(exit.Pid, _ => new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously))
                    .TrySetResult(exit.ExitCode);
                break;
            case FrameType.Log:
                (WorkerLogLevel level, string text) = Payloads.ReadLog(payload);
                WorkerLog.WorkerMessage(_log, LogLevel.Information, Id, Pid, text);
                break;
            default:
                throw new ProtocolException(ProtocolError.UnexpectedFrame, $"unexpected {header.Type} frame from the zygote");
        }
    }

    public void Dispose()
    {
        _writer?.Dispose();
        _socket?.Dispose();
        _process?.Dispose();
    }
}
