using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Lanner.Protocol;
using Lanner.Protocol.Marshal;
using Microsoft.Extensions.Logging;

namespace Lanner.Workers;

/// <summary>What became of the first boot: the app loaded in a worker, or it cannot load.</summary>
public sealed record BootOutcome(bool Succeeded, WorkerBootError? Error);

/// <summary>
/// Keeps the target number of workers of the current configuration serving: spawns them, takes
/// their connections on a private Unix socket, replaces the ones that die, time out, reach their
/// request or memory limit, or belong to an older configuration after a reload — always starting
/// the replacement first (<see cref="PoolPlanner"/>). Created by the hosting layer, which disposes
/// it after <see cref="StopAsync"/>.
/// </summary>
public sealed class WorkerPool : IAsyncDisposable
{
    /// <summary>How often running requests are checked against --timeout (and memory sampled).</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly object _sync = new();
    private readonly ConcurrentDictionary<int, Worker> _workers = new();
    private readonly ConcurrentDictionary<int, Task> _runs = new();
    private readonly ConcurrentDictionary<int, Zygote> _zygotes = new();
    private readonly TaskCompletionSource<BootOutcome> _firstBoot = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    private ITimer? _tick;
    private Socket? _listener;
    private string? _runtimeDir;
    private int _nextId;
    private int _generation = 1;
    private int _target;
    private int _consecutiveBootFailures;
    private long _nextSpawnAt;
    private long _lastMemoryCheck;
    private bool _everReady;
    private bool _retryScheduled;
    private volatile bool _draining;
    private (int Generation, PoolOptions Options)? _reloadFrom;
    private readonly ConcurrentDictionary<WorkerExitReason, long> _exits = new();
    private long _spawned;

    /// <summary>Workers that ended, by reason (for the metrics).</summary>
    public IReadOnlyDictionary<WorkerExitReason, long> ExitCounts => _exits;

    /// <summary>A worker is about to start (gunicorn's pre_fork). Called under the pool's lock: must not block.</summary>
    public event Action<Worker>? Spawning;

    /// <summary>A worker process ended (gunicorn's child_exit). Must not block.</summary>
    public event Action<Worker>? Exited;

    /// <summary>Workers started since the pool started (the first <see cref="PoolOptions.Workers"/> included).</summary>
    public long Spawned => Interlocked.Read(ref _spawned);

    public WorkerPool(PoolOptions options, IWorkerEvents events, TimeProvider time, ILogger log, Random? random = null)
    {
        Options = options;
        Events = events;
        _time = time;
        _log = log;
        _random = random ?? Random.Shared;
        _target = options.Workers;
    }

    /// <summary>The options of the current generation.</summary>
    internal PoolOptions Options { get; private set; }

    internal IWorkerEvents Events { get; }

    /// <summary>Completes when a worker first loads the app, or when the app cannot be loaded.</summary>
    public Task<BootOutcome> FirstBoot => _firstBoot.Task;

    public IReadOnlyCollection<Worker> Workers => [.. _workers.Values.OrderBy(w => w.Id)];

    public int Target
    {
        get
        {
            lock (_sync)
            {
                return _target;
            }
        }
    }

    public int Generation
    {
        get
        {
            lock (_sync)
            {
                return _generation;
            }
        }
    }

    public bool IsStopping => _stopping.IsCancellationRequested;

    /// <summary>
    /// The server is draining (TERM, INT): the workers finish what was accepted, and one that
    /// exits is replaced only while requests wait for a worker. A SIGTERM to the whole process
    /// group (systemd's default KillMode) ends the workers too: without this the pool would boot
    /// a new set just to stop it.
    /// </summary>
    public void BeginDrain()
    {
        _draining = true;
    }

    /// <summary>A request was queued while no worker could take it: while draining, start one.</summary>
    public void OnRequestsWaiting()
    {
        if (_draining)
        {
            Reconcile();
        }
    }

    public void Start()
    {
        _runtimeDir = Path.Combine(Path.GetTempPath(), $"lanner-{Environment.ProcessId}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(_runtimeDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(512);
        _ = AcceptLoopAsync(_listener);
        _tick = _time.CreateTimer(_ => Tick(), null, TickInterval, TickInterval);
        Reconcile();
    }

    private string SocketPath => Path.Combine(_runtimeDir!, "m.sock");

    // ---- keeping the target --------------------------------------------------------------------

    /// <summary>Spawns, retires and stops workers so that the target of the current generation serves.</summary>
    internal void Reconcile()
    {
        if (IsStopping || _firstBoot.Task is { IsCompleted: true, Result.Succeeded: false })
        {
            return; // stopping, or the app cannot load at all and the server is about to exit
        }

        // Asked before the pool's lock is taken: the dispatcher has its own.
        bool spawnWanted = !_draining || Events.HasWaitingRequests;
        var toStop = new List<Worker>();
        var zygotesToStop = new List<Zygote>();
        lock (_sync)
        {
            var views = _workers.Values.Select(w => new WorkerView(w.Id, w.Generation, w.State, w.Retiring)).ToList();
            long now = _time.GetTimestamp();
            bool mayStart = now >= _nextSpawnAt && spawnWanted;
            if (now < _nextSpawnAt && spawnWanted && !_retryScheduled && PoolPlanner.Plan(views, _target, _generation, true).Spawn > 0)
            {
                // Backing off: come back when the back-off ends, whatever else happens meanwhile
                // (a timer that fires a hair early must not leave the pool short for good).
                _retryScheduled = true;
                _ = ReconcileWhenBackOffEndsAsync(TimeSpan.FromSeconds((double)(_nextSpawnAt - now) / _time.TimestampFrequency));
            }

            if (Options.Preload)
            {
                // Workers are forked by the generation's zygote: start it first, spawn once it has the app.
                if (!_zygotes.TryGetValue(_generation, out Zygote? zygote) && mayStart)
                {
                    zygote = StartZygoteLocked();
                }

                mayStart &= zygote?.State == WorkerState.Ready;
            }

            foreach (Zygote old in _zygotes.Values)
            {
                if (old.Generation != _generation && !_workers.Values.Any(w => w.Generation == old.Generation))
                {
                    zygotesToStop.Add(old);
                }
            }

            PoolPlan plan = PoolPlanner.Plan(views, _target, _generation, mayStart);
            foreach (int id in plan.Retire)
            {
                if (_workers.TryGetValue(id, out Worker? w))
                {
                    w.Retiring = true;
                }
            }

            for (int i = 0; i < plan.Spawn; i++)
            {
                SpawnLocked();
            }

            foreach (int id in plan.Stop)
            {
                if (_workers.TryGetValue(id, out Worker? w) && w.State != WorkerState.Draining)
                {
                    toStop.Add(w);
                }
            }
        }

        foreach (Worker w in toStop)
        {
            w.Stop(Options.GracefulTimeout);
        }

        foreach (Zygote z in zygotesToStop)
        {
            z.Stop();
        }
    }

    private Zygote StartZygoteLocked()
    {
        int id = Interlocked.Increment(ref _nextId);
        var zygote = new Zygote(id, _generation, Options, this, _log) { DumpPath = Path.Combine(_runtimeDir!, $"stack-{id}") };
        _zygotes[_generation] = zygote;
        ProcessStartInfo psi = MakeStartInfo(Options, id);
        psi.Environment["LANNER_ROLE"] = "zygote";
        _runs[id] = RunZygoteAsync(zygote, psi);
        return zygote;
    }

    private async Task RunZygoteAsync(Zygote zygote, ProcessStartInfo startInfo)
    {
        await Task.Yield();
        try
        {
            await zygote.RunAsync(startInfo).ConfigureAwait(false);
        }
        finally
        {
            _zygotes.TryRemove(new KeyValuePair<int, Zygote>(zygote.Generation, zygote));
            _runs.TryRemove(zygote.Id, out _);
            zygote.Dispose();
            Reconcile();
        }
    }

    private void SpawnLocked()
    {
        int id = Interlocked.Increment(ref _nextId);
        Interlocked.Increment(ref _spawned);
        PoolOptions options = Options;
        var worker = new Worker(id, _generation, options, this, _time, _log,
            Supervision.RecycleLimit(options.MaxRequests, options.MaxRequestsJitter, _random))
        {
            DumpPath = Path.Combine(_runtimeDir!, $"stack-{id}"),
            BoardPath = Path.Combine(_runtimeDir!, $"board-{id}"),
        };
        // The scoreboard: one 4-byte slot per thread, zeroed, mapped by the worker.
        File.WriteAllBytes(worker.BoardPath, new byte[4 * options.Threads]);
        _workers[id] = worker;
        Spawning?.Invoke(worker);
        Func<Task<WorkerProcess>> launch;
        if (options.Preload && _zygotes.TryGetValue(_generation, out Zygote? zygote))
        {
            launch = () => zygote.SpawnAsync(id);
        }
        else
        {
            ProcessStartInfo psi = MakeStartInfo(options, id);
            launch = () => Task.FromResult(Worker.StartProcess(psi));
        }

        _runs[id] = RunWorkerAsync(worker, launch);
    }

    private async Task RunWorkerAsync(Worker worker, Func<Task<WorkerProcess>> launch)
    {
        await Task.Yield();
        try
        {
            await worker.RunAsync(launch).ConfigureAwait(false);
        }
        finally
        {
            _workers.TryRemove(worker.Id, out _);
            _runs.TryRemove(worker.Id, out _);
            worker.Dispose();
            Reconcile();
        }
    }

    private ProcessStartInfo MakeStartInfo(PoolOptions options, int id)
    {
        var psi = new ProcessStartInfo(options.PythonExecutable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = options.CaptureOutput,
            RedirectStandardError = options.CaptureOutput,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(BootstrapCode(options.WorkerPackagePath));
        psi.Environment["LANNER_SOCKET"] = SocketPath;
        psi.Environment["LANNER_TOKEN"] = _token;
        psi.Environment["LANNER_WORKER_ID"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (options.CaptureOutput)
        {
            psi.Environment["PYTHONUNBUFFERED"] = "1"; // lines reach the log as they are printed
        }

        return psi;
    }

    /// <summary>
    /// The exit code of an interpreter older than the workers need: the version guard of
    /// <c>lanner/worker/__main__.py</c> (EXIT_OLD_PYTHON), which the bootstrap runs first.
    /// </summary>
    public const int OldPythonExitCode = 6;

    /// <summary>
    /// The worker is imported from the package shipped with this master, whatever else the
    /// interpreter has installed, so that both ends always speak the same protocol. The version
    /// guard runs before <paramref name="module"/> is imported: on a Python too old for its syntax
    /// the process exits with <see cref="OldPythonExitCode"/> and one line saying why, not a SyntaxError.
    /// </summary>
    public static string BootstrapCode(string packagePath, string module = "lanner.worker.main")
    {
        string quoted = "'" + packagePath.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
        return $"import sys;p={quoted};sys.path.insert(0,p);import lanner.worker.__main__ as g;g.require_python();"
            + $"import {module} as m;sys.path.remove(p);m.main()";
    }

    /// <summary>
    /// Why a process failed to boot: its boot error, or <paramref name="fallback"/>; but when it
    /// ended with <see cref="OldPythonExitCode"/> before it connected (whoever reports a boot error
    /// from a frame calls this while the process still runs), that the interpreter is too old.
    /// </summary>
    internal static WorkerBootError BootErrorOf(WorkerBootError? error, WorkerExit? exit, string python, string fallback) =>
        exit is { Signal: null, ExitCode: OldPythonExitCode }
            ? new WorkerBootError($"the workers need Python 3.9 or newer; the interpreter {python} is older (exit code {OldPythonExitCode})", "")
            : error ?? new WorkerBootError(fallback, "");

    // ---- supervision -----------------------------------------------------------------------------

    /// <summary>Checks running requests against --timeout and workers against --max-worker-memory.</summary>
    internal void Tick()
    {
        if (IsStopping)
        {
            return;
        }

        long now = _time.GetTimestamp();
        bool sampleMemory = Options.MaxMemoryBytes > 0 && _time.GetElapsedTime(_lastMemoryCheck, now) >= Supervision.MemoryInterval;
        if (sampleMemory)
        {
            _lastMemoryCheck = now;
        }

        foreach (Worker worker in _workers.Values)
        {
            if (worker.State is not (WorkerState.Ready or WorkerState.Draining))
            {
                continue;
            }

            TimeSpan timeout = worker.Options.Timeout;
            (Exchange? running, long startedAt) = worker.OldestRunning();
            if (running is not null && Supervision.IsTimedOut(startedAt, now, timeout, _time))
            {
                worker.TimeOut(running, timeout);
                Reconcile();
                continue;
            }

            if (sampleMemory && worker.State == WorkerState.Ready && !worker.Retiring)
            {
                long rss = worker.ResidentBytes();
                if (rss > worker.Options.MaxMemoryBytes)
                {
                    Recycle(worker, $"its memory ({rss / (1024 * 1024)} MiB) exceeds --max-worker-memory ({worker.Options.MaxMemoryBytes / (1024 * 1024)} MiB)");
                }
            }
        }
    }

    /// <summary>Replaces a worker: a new one starts now, and this one stops once it is ready.</summary>
    internal void Recycle(Worker worker, string reason)
    {
        lock (_sync)
        {
            if (worker.Retiring || worker.State is WorkerState.Draining or WorkerState.Exited)
            {
                return;
            }

            worker.Retiring = true;
        }

        WorkerLog.Recycling(_log, worker.Id, worker.Pid, reason);
        Reconcile();
    }

    /// <summary>
    /// HUP: start a new generation of workers with <paramref name="options"/>; each older worker
    /// stops as a new one is ready to take its place. If the new workers cannot load the app, the
    /// old ones keep serving.
    /// </summary>
    public void Reload(PoolOptions options)
    {
        int generation;
        lock (_sync)
        {
            _reloadFrom ??= (_generation, Options);
            generation = ++_generation;
            Options = options;
            _target = options.Workers;
            _consecutiveBootFailures = 0;
            _nextSpawnAt = 0;
            foreach (Worker w in _workers.Values)
            {
                if (w.Generation < generation)
                {
                    w.Retiring = true;
                }
            }
        }

        WorkerLog.Reloading(_log, options.Workers, generation);
        Reconcile();
    }

    /// <summary>TTIN / TTOU: one worker more, or one fewer (never fewer than one).</summary>
    public void ChangeTarget(int delta)
    {
        int target;
        lock (_sync)
        {
            _target = Math.Max(1, _target + delta);
            target = _target;
        }

        WorkerLog.WorkerCount(_log, target);
        Reconcile();
    }

    // ---- connections -----------------------------------------------------------------------------

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!IsStopping)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (IsStopping)
                {
                    return;
                }

                continue;
            }

            _ = HandshakeAsync(socket);
        }
    }

    /// <summary>Reads the Hello frame, finds the worker it names, and hands it the connection.</summary>
    private async Task HandshakeAsync(Socket socket)
    {
        byte[] buffer = new byte[64 * 1024];
        int filled = 0;
        using var timeout = new CancellationTokenSource(Options.ConnectTimeout, _time);
        try
        {
            FrameHeader header;
            while (!FrameParser.TryReadHeader(buffer.AsSpan(0, filled), FrameDirection.WorkerToMaster, buffer.Length - FrameHeader.Size, out header)
                   || filled < FrameHeader.Size + header.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new ProtocolException(ProtocolError.MalformedPayload, "connection closed before the hello");
                }

                filled += n;
            }

            if (header.Type != FrameType.Hello)
            {
                throw new ProtocolException(ProtocolError.UnexpectedFrame, $"first frame is {header.Type}, not Hello");
            }

            WorkerHello hello = WorkerHello.Decode(buffer.AsSpan(FrameHeader.Size, header.Length));
            if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(hello.Token), System.Text.Encoding.ASCII.GetBytes(_token)))
            {
                throw new ProtocolException(ProtocolError.MalformedPayload, $"wrong token from pid {hello.Pid}");
            }

            if (hello.Interface == "zygote")
            {
                Zygote? zygote = _zygotes.Values.FirstOrDefault(z => z.Id == hello.WorkerId)
                    ?? throw new ProtocolException(ProtocolError.MalformedPayload, $"unknown zygote {hello.WorkerId} (pid {hello.Pid})");
                if (hello.Version != ProtocolVersion.Current)
                {
                    zygote.Kill();
                    throw new ProtocolException(ProtocolError.VersionMismatch, $"zygote (pid {hello.Pid}) speaks protocol version {hello.Version}");
                }

                int used = FrameHeader.Size + header.Length;
                zygote.Attach(socket, buffer.AsMemory(used, filled - used), EncodeConfig(zygote.Options, zygote.DumpPath));
                return;
            }

            if (!_workers.TryGetValue(hello.WorkerId, out Worker? worker))
            {
                throw new ProtocolException(ProtocolError.MalformedPayload, $"unknown worker {hello.WorkerId} (pid {hello.Pid})");
            }

            if (hello.Version != ProtocolVersion.Current)
            {
                worker.SetBootError(new WorkerBootError(
                    $"the worker speaks protocol version {hello.Version}, this server speaks {ProtocolVersion.Current}: "
                    + "the lanner package imported by the workers' Python does not match this server", ""));
                worker.Kill();
                throw new ProtocolException(ProtocolError.VersionMismatch, $"worker {hello.WorkerId} (pid {hello.Pid}) speaks protocol version {hello.Version}");
            }

            int consumed = FrameHeader.Size + header.Length;
            worker.Attach(socket, hello, buffer.AsMemory(consumed, filled - consumed), EncodeConfig(worker.Options, worker.DumpPath, worker.BoardPath));
        }
        catch (Exception ex) when (ex is ProtocolException or OperationCanceledException or SocketException)
        {
            WorkerLog.HandshakeRefused(_log, ex is OperationCanceledException ? "no hello in time" : ex.Message);
            socket.Dispose();
        }
        catch (Exception ex)
        {
            // A bug of ours: say it, and close the connection so that the worker exits and is replaced.
            WorkerLog.HandshakeFailed(_log, ex);
            socket.Dispose();
        }
    }

    private static byte[] EncodeConfig(PoolOptions options, string? dumpPath, string? boardPath = null)
    {
        using var buffer = new ByteBuffer(512);
        var config = new Dictionary<string, object?>
        {
            ["app"] = options.AppSpec,
            ["chdir"] = options.Chdir,
            ["pythonpath"] = options.PythonPath.Cast<object?>().ToList(),
            ["threads"] = options.Threads,
            ["scheduling"] = options.Scheduling,
            ["workers"] = options.Workers,
            ["script_name"] = options.ScriptName,
            ["env"] = options.Environment.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
            ["dump_path"] = dumpPath,
            ["board_path"] = boardPath,
        };
        if (options.HookConfig is not null)
        {
            config["hook_config"] = options.HookConfig;
            config["hook_settings"] = options.HookSettings;
        }

        MarshalWriter.Value(buffer, config);
        return buffer.WrittenSpan.ToArray();
    }

    // ---- events from workers -----------------------------------------------------------------

    internal void OnReady(Worker worker)
    {
        bool reloaded = false;
        lock (_sync)
        {
            _everReady = true;
            _consecutiveBootFailures = 0;
            _nextSpawnAt = 0;
            if (_reloadFrom is not null && worker.Generation == _generation
                && _workers.Values.Count(w => w.Generation == _generation && w.State == WorkerState.Ready) >= _target)
            {
                _reloadFrom = null;
                reloaded = true;
            }
        }

        _firstBoot.TrySetResult(new BootOutcome(true, null));
        if (reloaded)
        {
            WorkerLog.Reloaded(_log, worker.Generation);
        }

        if (!worker.Retiring)
        {
            Events.WorkerAvailable(worker);
        }

        Reconcile();
    }

    internal void OnBootFailed(Worker worker)
    {
        WorkerBootError error = BootErrorOf(worker.BootError, worker.Exit, worker.Options.PythonExecutable, "the worker failed to boot");
        string traceback = string.IsNullOrEmpty(error.Traceback) ? "" : "\n" + error.Traceback.TrimEnd();
        lock (_sync)
        {
            if (!_everReady)
            {
                // The app cannot be imported at all: say it once and let the server exit.
                _firstBoot.TrySetResult(new BootOutcome(false, error));
                return;
            }

            if (_reloadFrom is not null && worker.Generation == _generation)
            {
                RollBackReloadLocked(error.Message, traceback);
            }
            else if (worker.Generation == _generation)
            {
                CountBootFailureLocked(worker, error.Message + traceback);
            }
        }

        Reconcile();
    }

    /// <summary>The new code does not load: go back to the generation that serves.</summary>
    private void RollBackReloadLocked(string message, string traceback)
    {
        (int generation, PoolOptions options) = _reloadFrom!.Value;
        WorkerLog.ReloadFailed(_log, message, traceback);
        _generation = generation;
        Options = options;
        _target = options.Workers;
        _reloadFrom = null;
        foreach (Worker w in _workers.Values)
        {
            w.Retiring = w.Generation != _generation;
        }
    }

    /// <summary>
    /// A worker of the current generation died before serving: back off before the next spawn.
    /// (The Reconcile that follows every caller schedules the spawn for when the back-off ends.)
    /// </summary>
    private void CountBootFailureLocked(Worker worker, string detail) => CountBootFailureLocked(worker.Id, worker.Pid, detail);

    private void CountBootFailureLocked(int id, int pid, string detail)
    {
        int failures = ++_consecutiveBootFailures;
        TimeSpan delay = Supervision.Backoff(failures);
        _nextSpawnAt = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
        WorkerLog.CrashLoop(_log, id, pid, failures, delay.TotalSeconds, detail.Length == 0 ? "" : ": " + detail);
    }

    internal void OnZygoteReady(Zygote zygote) => Reconcile();

    /// <summary>The zygote could not load the app: as a worker that fails to boot.</summary>
    internal void OnZygoteFailed(Zygote zygote)
    {
        WorkerBootError error = BootErrorOf(zygote.BootError, zygote.Exit, zygote.Options.PythonExecutable, "the zygote failed to start");
        string traceback = string.IsNullOrEmpty(error.Traceback) ? "" : "\n" + error.Traceback.TrimEnd();
        bool noneAlive;
        lock (_sync)
        {
            _zygotes.TryRemove(new KeyValuePair<int, Zygote>(zygote.Generation, zygote));
            if (!_everReady)
            {
                _firstBoot.TrySetResult(new BootOutcome(false, error));
                return;
            }

            if (_reloadFrom is not null && zygote.Generation == _generation)
            {
                RollBackReloadLocked(error.Message, traceback);
            }
            else if (zygote.Generation == _generation)
            {
                CountBootFailureLocked(zygote.Id, zygote.Pid, error.Message + traceback);
            }

            noneAlive = _consecutiveBootFailures > 0 && !_workers.Values.Any(w => w.State == WorkerState.Ready);
        }

        zygote.Stop();
        if (noneAlive)
        {
            Events.NoWorkersAlive("no worker is alive: the app keeps failing to load");
        }

        Reconcile();
    }

    /// <summary>
    /// A TERM or INT that Lanner did not send, or a clean exit nobody asked for. Most likely the
    /// whole process group was signalled (systemd's default KillMode, Ctrl-C in a terminal) and the
    /// master's own signal is on its way: replacing the process at once would boot a new set of
    /// workers only for the drain that signal starts to stop them.
    /// </summary>
    internal static bool StoppedFromOutside(WorkerExit? exit, bool stopRequested) =>
        !stopRequested && exit is { } e
        && (e.Signal is SignalNames.SIGTERM or SignalNames.SIGINT || (e.Signal is null && e.ExitCode == 0));

    /// <summary>No spawn before <paramref name="delay"/> from now (a later back-off stays).</summary>
    private void DeferSpawnsLocked(TimeSpan delay)
    {
        long until = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
        _nextSpawnAt = Math.Max(_nextSpawnAt, until);
    }

    internal void OnZygoteExited(Zygote zygote)
    {
        lock (_sync)
        {
            if (StoppedFromOutside(zygote.Exit, zygote.StopRequested))
            {
                DeferSpawnsLocked(Supervision.OutsideStopGrace);
            }

            _zygotes.TryRemove(new KeyValuePair<int, Zygote>(zygote.Generation, zygote));
        }
    }

    internal void OnExited(Worker worker)
    {
        if (worker.Exit is { } exit)
        {
            _exits.AddOrUpdate(exit.Reason, 1, (_, n) => n + 1);
        }

        Exited?.Invoke(worker);

        if (IsStopping)
        {
            return;
        }

        bool noneAlive = false;
        lock (_sync)
        {
            if (!_everReady && worker.Exit?.Reason != WorkerExitReason.Stopped)
            {
                WorkerBootError error = worker.BootError
                    ?? new WorkerBootError($"worker {worker.Id} (pid {worker.Pid}) exited with {worker.Exit?.Describe()} before loading the app", "");
                _firstBoot.TrySetResult(new BootOutcome(false, error));
                return;
            }

            bool stoppedFromOutside = StoppedFromOutside(worker.Exit, worker.StopRequested);
            if (stoppedFromOutside)
            {
                DeferSpawnsLocked(Supervision.OutsideStopGrace);
            }

            // Died before it was ready, without a boot error (already counted) and without being asked.
            bool diedBooting = !worker.WasReady && worker.BootError is null && worker.Exit?.Reason != WorkerExitReason.Stopped
                && worker.Generation == _generation && !worker.Retiring && !stoppedFromOutside;
            if (diedBooting)
            {
                CountBootFailureLocked(worker, $"exited with {worker.Exit?.Describe()} before loading the app");
            }

            // A crash loop with nothing left that is serving or about to: answer 503 until one is ready.
            noneAlive = _consecutiveBootFailures > 0
                && !_workers.Values.Any(w => w.Id != worker.Id && w.State is WorkerState.Ready or WorkerState.Booting or WorkerState.Spawned);
        }

        if (noneAlive)
        {
            Events.NoWorkersAlive("no worker is alive: they keep failing to boot");
        }
    }

    private async Task ReconcileWhenBackOffEndsAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay + TimeSpan.FromMilliseconds(1), _time, _stopping.Token).ConfigureAwait(false);
            lock (_sync)
            {
                _retryScheduled = false;
            }

            Reconcile();
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- shutdown ----------------------------------------------------------------------------

    /// <summary>
    /// The quick shutdown (QUIT): nothing is replaced from now on, and every worker ends at once:
    /// SIGKILL, or SIGQUIT when a worker_int hook wants to run (gunicorn's quick shutdown sends
    /// SIGQUIT); <see cref="StopAsync"/> then kills what is left after its grace.
    /// </summary>
    public void Quit()
    {
        _stopping.Cancel();
        foreach (Worker worker in _workers.Values)
        {
            if (Options.IntHook)
            {
                worker.Signal(SignalNames.SIGQUIT);
            }
            else
            {
                worker.Kill();
            }
        }
    }

    /// <summary>
    /// Stops every worker: asks them to finish and exit, waits up to <paramref name="grace"/>,
    /// then kills what is left and waits for it.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (!_stopping.IsCancellationRequested)
        {
            _stopping.Cancel();
        }

        _tick?.Dispose();
        _listener?.Dispose();
        foreach (Worker worker in _workers.Values)
        {
            worker.Stop(grace);
        }

        foreach (Zygote zygote in _zygotes.Values)
        {
            zygote.Stop(); // it exits once its workers are gone
        }

        Task all = Task.WhenAll(_runs.Values.ToArray());
        if (await Task.WhenAny(all, Task.Delay(grace + TimeSpan.FromSeconds(1), _time)).ConfigureAwait(false) != all)
        {
            foreach (Worker worker in _workers.Values)
            {
                worker.Kill();
            }

            foreach (Zygote zygote in _zygotes.Values)
            {
                zygote.Kill();
            }
        }

        while (!_runs.IsEmpty)
        {
            await Task.WhenAll(_runs.Values.ToArray()).ConfigureAwait(false);
        }

        CleanRuntimeDir();
    }

    private void CleanRuntimeDir()
    {
        try
        {
            if (_runtimeDir is not null && Directory.Exists(_runtimeDir))
            {
                Directory.Delete(_runtimeDir, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!IsStopping)
        {
            await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        _stopping.Dispose();
    }
}
