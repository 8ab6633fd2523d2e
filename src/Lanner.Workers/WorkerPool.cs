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
/// Keeps <see cref="PoolOptions.Workers"/> worker processes running: spawns them, takes their
/// connections on a private Unix socket, replaces the ones that die, and stops them all on
/// shutdown. Created by the hosting layer, which disposes it after <see cref="StopAsync"/>.
/// </summary>
public sealed class WorkerPool : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<int, Worker> _workers = new();
    private readonly ConcurrentDictionary<int, Task> _runs = new();
    private readonly TaskCompletionSource<BootOutcome> _firstBoot = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    private Socket? _listener;
    private string? _runtimeDir;
    private int _nextId;
    private int _consecutiveBootFailures;
    private bool _everReady;

    public WorkerPool(PoolOptions options, IWorkerEvents events, TimeProvider time, ILogger log)
    {
        Options = options;
        Events = events;
        _time = time;
        _log = log;
    }

    internal PoolOptions Options { get; }

    internal IWorkerEvents Events { get; }

    /// <summary>Completes when a worker first loads the app, or when the app cannot be loaded.</summary>
    public Task<BootOutcome> FirstBoot => _firstBoot.Task;

    public IReadOnlyCollection<Worker> Workers => [.. _workers.Values.OrderBy(w => w.Id)];

    public bool IsStopping => _stopping.IsCancellationRequested;

    public void Start()
    {
        _runtimeDir = Path.Combine(Path.GetTempPath(), $"lanner-{Environment.ProcessId}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(_runtimeDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string path = Path.Combine(_runtimeDir, "m.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(512);
        _ = AcceptLoopAsync(_listener);
        for (int i = 0; i < Options.Workers; i++)
        {
            Spawn();
        }
    }

    private string SocketPath => Path.Combine(_runtimeDir!, "m.sock");

    private void Spawn()
    {
        if (IsStopping)
        {
            return;
        }

        int id = Interlocked.Increment(ref _nextId);
        var worker = new Worker(id, Options.Threads, this, _time, _log);
        _workers[id] = worker;
        _runs[id] = RunWorkerAsync(worker);
    }

    private async Task RunWorkerAsync(Worker worker)
    {
        try
        {
            await worker.RunAsync(MakeStartInfo(worker.Id), _stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            _workers.TryRemove(worker.Id, out _);
            _runs.TryRemove(worker.Id, out _);
            worker.Dispose();
        }
    }

    private ProcessStartInfo MakeStartInfo(int id)
    {
        var psi = new ProcessStartInfo(Options.PythonExecutable)
        {
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(BootstrapCode(Options.WorkerPackagePath));
        psi.Environment["LANNER_SOCKET"] = SocketPath;
        psi.Environment["LANNER_TOKEN"] = _token;
        psi.Environment["LANNER_WORKER_ID"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return psi;
    }

    /// <summary>
    /// The worker is imported from the package shipped with this master, whatever else the
    /// interpreter has installed, so that both ends always speak the same protocol.
    /// </summary>
    internal static string BootstrapCode(string packagePath)
    {
        string quoted = "'" + packagePath.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
        return "import sys\n"
            + $"sys.path.insert(0, {quoted})\n"
            + "import lanner.worker.main as _m\n"
            + $"sys.path.remove({quoted})\n"
            + "_m.main()\n";
    }

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

            if (!_workers.TryGetValue(hello.WorkerId, out Worker? worker))
            {
                throw new ProtocolException(ProtocolError.MalformedPayload, $"unknown worker {hello.WorkerId} (pid {hello.Pid})");
            }

            if (hello.Version != ProtocolVersion.Current)
            {
                worker.Kill();
                worker.SetBootError(new WorkerBootError(
                    $"the worker speaks protocol version {hello.Version}, this server speaks {ProtocolVersion.Current}: "
                    + "the lanner package imported by the workers' Python does not match this server", ""));
                throw new ProtocolException(ProtocolError.VersionMismatch, $"worker {hello.WorkerId} (pid {hello.Pid}) speaks protocol version {hello.Version}");
            }

            int consumed = FrameHeader.Size + header.Length;
            worker.Attach(socket, hello, buffer.AsMemory(consumed, filled - consumed), EncodeConfig());
        }
        catch (Exception ex) when (ex is ProtocolException or OperationCanceledException or SocketException)
        {
            WorkerLog.HandshakeRefused(_log, ex is OperationCanceledException ? "no hello in time" : ex.Message);
            socket.Dispose();
        }
    }

    private byte[] EncodeConfig()
    {
        using var buffer = new ByteBuffer(512);
        var config = new Dictionary<string, object?>
        {
            ["app"] = Options.AppSpec,
            ["chdir"] = Options.Chdir,
            ["pythonpath"] = Options.PythonPath.Cast<object?>().ToList(),
            ["threads"] = Options.Threads,
            ["workers"] = Options.Workers,
            ["script_name"] = Options.ScriptName,
            ["env"] = Options.Environment.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
        };
        MarshalWriter.Value(buffer, config);
        return buffer.WrittenSpan.ToArray();
    }

    // ---- events from workers -----------------------------------------------------------------

    internal void OnReady(Worker worker)
    {
        _everReady = true;
        Interlocked.Exchange(ref _consecutiveBootFailures, 0);
        _firstBoot.TrySetResult(new BootOutcome(true, null));
    }

    internal void OnBootFailed(Worker worker)
    {
        WorkerBootError error = worker.BootError ?? new WorkerBootError("the worker failed to boot", "");
        string traceback = string.IsNullOrEmpty(error.Traceback) ? "" : "\n" + error.Traceback.TrimEnd();
        if (!_everReady)
        {
            // The app cannot be imported at all: say it once and let the server exit.
            _firstBoot.TrySetResult(new BootOutcome(false, error));
            return;
        }

        WorkerLog.BootFailed(_log, worker.Id, worker.Pid, error.Message, traceback);
        Interlocked.Increment(ref _consecutiveBootFailures);
    }

    internal void OnExited(Worker worker)
    {
        if (IsStopping)
        {
            return;
        }

        if (!_everReady && worker.Exit?.Reason != WorkerExitReason.Stopped)
        {
            // Died before any worker ever loaded the app: it cannot boot.
            WorkerBootError error = worker.BootError
                ?? new WorkerBootError($"worker {worker.Id} (pid {worker.Pid}) exited with {worker.Exit?.Describe()} before loading the app", "");
            _firstBoot.TrySetResult(new BootOutcome(false, error));
            return;
        }

        int failures = Volatile.Read(ref _consecutiveBootFailures);
        if (failures == 0)
        {
            Spawn();
            return;
        }

        // A crash loop: back off (0.1 s, 0.2 s, … up to 10 s) instead of a respawn storm.
        TimeSpan delay = TimeSpan.FromMilliseconds(Math.Min(10_000, 100 * Math.Pow(2, Math.Min(failures - 1, 10))));
        _ = SpawnLaterAsync(delay);
    }

    private async Task SpawnLaterAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, _stopping.Token).ConfigureAwait(false);
            Spawn();
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- shutdown ----------------------------------------------------------------------------

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

        _listener?.Dispose();
        foreach (Worker worker in _workers.Values)
        {
            worker.Stop();
        }

        Task all = Task.WhenAll(_runs.Values.ToArray());
        if (await Task.WhenAny(all, Task.Delay(grace, _time)).ConfigureAwait(false) != all)
        {
            foreach (Worker worker in _workers.Values)
            {
                WorkerLog.StopTimeout(_log, worker.Id, worker.Pid);
                worker.Kill();
            }

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
