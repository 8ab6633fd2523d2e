using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Lanner.Hosting.Dispatch;
using Lanner.Hosting.Control;
using Lanner.Hosting.Front;
using Lanner.Hosting.Front.Logs;
using Lanner.Hosting.Front.Static;
using Lanner.Protocol;
using Lanner.Settings;
using Lanner.Workers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Server;

/// <summary>Exit codes of the lanner command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int Usage = 2;

    /// <summary>The app cannot be loaded (gunicorn's APP_LOAD_ERROR / WORKER_BOOT_ERROR).</summary>
    public const int AppLoadError = 3;
}

/// <summary>
/// The master: Kestrel in front, the dispatcher and the worker pool behind it. Owns all three
/// and the shutdown order: stop accepting, drain requests (workers keep serving), stop workers,
/// dispose.
/// </summary>
public static partial class LannerServer
{
    /// <summary>SIGUSR1, which .NET has no name for: reopen the log files (after logrotate).</summary>
    private const PosixSignal SIGUSR1 = (PosixSignal)10;

    /// <summary>Runs the server until a terminating signal; returns the exit code.</summary>
    /// <param name="options">The configuration to start with.</param>
    /// <param name="reload">Reads the configuration again (HUP); returns an error message instead when it is invalid.</param>
    public static async Task<int> RunAsync(ServerOptions options, Func<(ServerOptions? Options, string? Error)>? reload = null)
    {
        var signals = Channel.CreateUnbounded<ServerEvent>();
        var registrations = new List<PosixSignalRegistration>();
        foreach (PosixSignal signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGHUP, PosixSignal.SIGTTIN, PosixSignal.SIGTTOU, SIGUSR1 })
        {
            registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                signals.Writer.TryWrite(new ServerEvent(context.Signal, null));
            }));
        }

        try
        {
            return await RunAsync(options, reload, signals).ConfigureAwait(false);
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
    }

    /// <summary>Something the main loop acts on: a signal, or (with --reload) a changed source file.</summary>
    private readonly record struct ServerEvent(PosixSignal? Signal, string? ChangedFile);

    private static async Task<int> RunAsync(ServerOptions options, Func<(ServerOptions?, string?)>? reload, Channel<ServerEvent> events)
    {
        // Files and certificates are opened first: a typo in a path is one clear line and exit 1.
        LineWriter errorWriter;
        X509Certificate2? certificate;
        try
        {
            errorWriter = new LineWriter(options.Logs.ErrorLog == "-" ? "stderr" : options.Logs.ErrorLog);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"Error: cannot open the error log {options.Logs.ErrorLog}: {ex.Message}");
            return ExitCodes.Error;
        }

        // The logging system does not dispose a provider it was handed, so the error log is
        // drained here, after everything that may log has been disposed: its last lines (the
        // reason for an exit, "Shutting down") are written before the process ends.
        using var errorLog = new LineLoggerProvider(errorWriter, options.Logs.ErrorLog == "-" && GunicornLogLine.Colored);
        if (TlsFiles.Load(options.Listen, out certificate, out X509Certificate2Collection? clientAuthorities) is { } tlsProblem)
        {
            errorWriter.Write($"Error: {tlsProblem}");
            return ExitCodes.Error;
        }

        // Host names are resolved and socket directories checked before anything starts, so a
        // bad --bind is one clear line and exit 1.
        if (!TryResolveBinds(options.Binds, out IReadOnlyList<(BindAddress Bind, IPAddress? Address)> endpoints, out (string Address, string Why)? bindProblem))
        {
            ServerLog.CannotListen(errorLog.CreateLogger("lanner"), bindProblem!.Value.Address, bindProblem.Value.Why);
            return ExitCodes.Error;
        }

        return await ServeAsync(options, reload, events, errorLog, certificate, clientAuthorities, endpoints).ConfigureAwait(false);
    }

    private static async Task<int> ServeAsync(ServerOptions options, Func<(ServerOptions?, string?)>? reload, Channel<ServerEvent> events,
        LineLoggerProvider errorLog, X509Certificate2? certificate, X509Certificate2Collection? clientAuthorities,
        IReadOnlyList<(BindAddress Bind, IPAddress? Address)> endpoints)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        ConfigureLogging(builder.Logging, errorLog, options.Logs.Level);
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();
        // Connections refused before HTTP, counted by the metrics (created below; no connection comes before).
        Telemetry? telemetry = null;
        Action<string>? refused = options.ControlBind is null ? null : reason => telemetry!.ConnectionRefused(reason);
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, endpoints, options.Listen, certificate, clientAuthorities, refused));
        // Requests run on the socket threads that read them, without a hop to the thread pool
        // (see docs/decisions/0002-inline-io.md).
        builder.WebHost.UseSockets(o =>
        {
            o.UnsafePreferInlineScheduling = true;
            o.Backlog = options.Listen.Backlog;
        });

        await using WebApplication app = builder.Build();
        ILoggerFactory loggers = app.Services.GetRequiredService<ILoggerFactory>();
        ILogger log = loggers.CreateLogger("lanner");
        ServerLog.Starting(log, options.Version);

        AccessLogger? accessLog;
        try
        {
            accessLog = options.Logs.AccessLog is { } path ? new AccessLogger(new LineWriter(path), options.Logs.AccessLogFormat) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ServerLog.LogFileFailed(log, "access", options.Logs.AccessLog!, ex.Message);
            return ExitCodes.Error;
        }

        await using AccessLogger? accessLogScope = accessLog;
        using var dispatcher = new Dispatcher(options.Dispatch, TimeProvider.System);
        await using var pool = new WorkerPool(options.Pool, dispatcher, TimeProvider.System, loggers.CreateLogger("lanner.workers"));
        dispatcher.RequestsWaiting = pool.OnRequestsWaiting;
        telemetry = options.ControlBind is null ? null : new Telemetry(() => pool.Workers, pool, dispatcher);
        ILogger frontLog = loggers.CreateLogger("lanner.front");
        var responder = new AppResponder(frontLog, telemetry is null ? null : telemetry.Failure);
        var front = new FrontDoor(new AppHandler(dispatcher, responder, options.Front, frontLog), MountStatic(options.Static, log), options.Front, accessLog, telemetry);
        app.Run(front.HandleAsync);
        using IDisposable? rejections = front.Observed
            ? RejectedRequests.Subscribe(app.Services.GetRequiredService<System.Diagnostics.DiagnosticListener>(), front.Rejected, frontLog)
            : null;

        // gunicorn's on_starting runs before the sockets are bound; a failure there stops the start.
        MasterHooks? hooks = null;
        if (options.Hooks is { } hookOptions && hookOptions.MasterHooks.Any())
        {
            (hooks, string? error) = await MasterHooks.StartAsync(hookOptions, options.Pool, log).ConfigureAwait(false);

            // As gunicorn's arbiter: the number of workers is set (old value None), then on_starting.
            hooks?.Post("nworkers_changed", pool.Target, c =>
            {
                c["new"] = pool.Target;
                c["old"] = null;
            });
            if (hooks is null || await hooks.CallAsync("on_starting", pool.Target).ConfigureAwait(false) is not null)
            {
                if (error is not null)
                {
                    ServerLog.HookFailed(log, error);
                }

                if (hooks is not null)
                {
                    await hooks.DisposeAsync().ConfigureAwait(false);
                }

                return ExitCodes.Error;
            }

        }

        // The helper may be replaced by a reload: the handlers read the variable each time.
        pool.Spawning += worker => hooks?.Post("pre_fork", pool.Target, MasterHooks.WorkerFields(worker));
        pool.Exited += worker => hooks?.Post("child_exit", pool.Target, MasterHooks.WorkerFields(worker));

        await using var hooksScope = new AsyncScope(async () =>
        {
            if (hooks is not null)
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await hooks.CallAsync("on_exit", pool.Target).WaitAsync(limit.Token).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                await hooks.DisposeAsync().ConfigureAwait(false);
            }
        });

        // Written before the listeners open (as gunicorn does), so a script that waits for the
        // "Listening at" line finds it.
        using var pidFile = options.PidFile is null ? null : PidFile.TryCreate(options.PidFile, log);
        if (options.PidFile is not null && pidFile is null)
        {
            return ExitCodes.Error;
        }

        if (await ListenAsync(app, options, log).ConfigureAwait(false) is int failed)
        {
            return failed;
        }

        using CpuScheduling? scheduling = CpuScheduling.Start(options.Pool.Scheduling, out string? schedulingError);
        if (schedulingError is not null)
        {
            ServerLog.SchedulingFailed(log, schedulingError);
        }

        ServerLog.Listening(log, string.Join(",", ListeningAddresses(app)), Environment.ProcessId);
        // As gunicorn: -k gthread, or sync with more than one thread (which gunicorn turns into gthread).
        ServerLog.UsingWorker(log, options.WorkerClass == "gthread" || options.Pool.Threads > 1 ? "gthread" : "sync");
        await using ControlServer? control = options.ControlBind is { } controlBind ? new ControlServer(controlBind, telemetry!, pool, dispatcher) : null;
        if (control is not null)
        {
            try
            {
                ServerLog.ControlListening(log, await control.StartAsync().ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
            {
                ServerLog.CannotListen(log, options.ControlBind!.ToString(), ex.Message);
                return ExitCodes.Error;
            }
        }

        // As gunicorn: a when_ready that raises stops the server (the failure is logged with its traceback).
        if (hooks is not null && await hooks.CallAsync("when_ready", pool.Target).ConfigureAwait(false) is not null)
        {
            await app.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
            ServerLog.ShuttingDown(log);
            return ExitCodes.Error; // the hook helper is ended by the scope below, as on every exit
        }

        pool.Start();

        using SourceWatcher? watcher = options.WatchDirectory is null ? null
            : new SourceWatcher(options.WatchDirectory, options.WatchExtraFiles, TimeProvider.System,
                file => events.Writer.TryWrite(new ServerEvent(null, file)));
        if (watcher is not null)
        {
            ServerLog.Watching(log, string.Join(", ", [options.WatchDirectory!, .. watcher.WatchedOutside]));
        }

        ChannelReader<ServerEvent> signals = events.Reader;
        Task<ServerEvent> nextSignal = signals.ReadAsync().AsTask();
        if (await Task.WhenAny(pool.FirstBoot, nextSignal).ConfigureAwait(false) == pool.FirstBoot && !pool.FirstBoot.Result.Succeeded)
        {
            WorkerBootError error = pool.FirstBoot.Result.Error!;
            string traceback = string.IsNullOrWhiteSpace(error.Traceback) ? "" : Environment.NewLine + error.Traceback.TrimEnd();
            ServerLog.AppLoadFailed(log, options.Pool.AppSpec, error.Message, traceback);
            dispatcher.Stop();
            await pool.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            await app.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
            ServerLog.ShuttingDown(log);
            ServerLog.Reason(log, "App failed to load.");
            return ExitCodes.AppLoadError;
        }

        ServerOptions current = options;
        while (true)
        {
            ServerEvent next = await nextSignal.ConfigureAwait(false);
            nextSignal = signals.ReadAsync().AsTask();
            if (next.ChangedFile is { } changed)
            {
                ServerLog.SourceChanged(log, changed);
                await ReloadAsync().ConfigureAwait(false);
                continue;
            }

            PosixSignal signal = next.Signal!.Value;
            ServerLog.HandlingSignal(log, SignalName(signal));
            if (signal is PosixSignal.SIGTTIN or PosixSignal.SIGTTOU && hooks is not null)
            {
                // Before the pool acts, as gunicorn: the hook hears of the change before pre_fork.
                int old = pool.Target;
                int target = Math.Max(1, old + (signal == PosixSignal.SIGTTIN ? 1 : -1));
                if (target != old)
                {
                    hooks.Post("nworkers_changed", target, c =>
                    {
                        c["new"] = target;
                        c["old"] = old;
                    });
                }
            }

            switch (signal)
            {
                case PosixSignal.SIGHUP:
                    await ReloadAsync().ConfigureAwait(false);
                    break;
                case PosixSignal.SIGTTIN:
                    pool.ChangeTarget(+1);
                    break;
                case PosixSignal.SIGTTOU:
                    pool.ChangeTarget(-1);
                    break;
                case SIGUSR1:
                    errorLog.Reopen();
                    accessLog?.Reopen();
                    ServerLog.ReopeningLogs(log); // after: whoever sees the line can rely on the reopen
                    break;
                case PosixSignal.SIGQUIT:
                    // Fast: drop everything now (a worker_int hook still gets its SIGQUIT, as in gunicorn).
                    dispatcher.Stop();
                    pool.Quit();

                    await app.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
                    await pool.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                    ServerLog.ShuttingDown(log);
                    return ExitCodes.Ok;
                default:
                    // TERM, INT: stop accepting and let every accepted request finish; the workers keep serving.
                    // /readyz says 503 from now on, so a load balancer stops sending.
                    control?.Draining = true;
                    pool.BeginDrain();
                    long drainStarted = TimeProvider.System.GetTimestamp();
                    bool now = false;
                    using (var grace = new CancellationTokenSource(current.GracefulTimeout))
                    {
                        // A second Ctrl-C (INT) or a QUIT while requests drain: stop waiting for
                        // them, as uvicorn does on a second Ctrl-C. Other signals mean nothing now.
                        Task stopping = app.StopAsync(grace.Token);
                        while (await Task.WhenAny(stopping, nextSignal).ConfigureAwait(false) != stopping)
                        {
                            ServerEvent again = await nextSignal.ConfigureAwait(false);
                            nextSignal = signals.ReadAsync().AsTask();
                            if (!now && again.Signal is PosixSignal.SIGINT or PosixSignal.SIGQUIT)
                            {
                                now = true;
                                ServerLog.StoppingNow(log, SignalName(again.Signal.Value));
                                await grace.CancelAsync().ConfigureAwait(false);
                            }
                        }

                        await stopping.ConfigureAwait(false);
                    }

                    dispatcher.Stop();
                    if (now)
                    {
                        pool.Quit();
                        await pool.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                        ServerLog.ShuttingDown(log);
                        return ExitCodes.Ok;
                    }

                    // The workers get what is left of --graceful-timeout (at least a moment to exit
                    // cleanly), as gunicorn kills its workers once the graceful timeout is over.
                    TimeSpan left = current.GracefulTimeout - TimeProvider.System.GetElapsedTime(drainStarted);
                    await pool.StopAsync(left > MinimumStopGrace ? left : MinimumStopGrace).ConfigureAwait(false);
                    ServerLog.ShuttingDown(log);
                    return ExitCodes.Ok;
            }
        }

        // HUP or a changed file: read the configuration again, restart the hook helper on the
        // (possibly edited) config file, call on_reload, then move the pool to the new generation.
        async Task ReloadAsync()
        {
            ServerOptions? next = ReadConfiguration(current, reload, log);
            if (next is null)
            {
                return;
            }

            MasterHooks? old = hooks;
            if (next.Hooks is { } hookOptions && hookOptions.MasterHooks.Any())
            {
                (MasterHooks? fresh, string? error) = await MasterHooks.StartAsync(hookOptions, next.Pool, log).ConfigureAwait(false);
                if (fresh is null)
                {
                    ServerLog.HookFailed(log, $"reload: the server hooks stay as they were: {error}");
                    old = null;
                }
                else
                {
                    hooks = fresh;
                }
            }
            else
            {
                hooks = null;
            }

            if (old is not null)
            {
                await old.DisposeAsync().ConfigureAwait(false);
            }

            // gunicorn reopens its log files on a reload too.
            errorLog.Reopen();
            accessLog?.Reopen();

            // Every reload, as gunicorn's arbiter sets its number of workers again on each.
            int before = pool.Target;
            if (hooks is not null)
            {
                hooks.Post("nworkers_changed", next.Pool.Workers, c =>
                {
                    c["new"] = next.Pool.Workers;
                    c["old"] = before;
                });
            }

            if (hooks is not null)
            {
                await hooks.CallAsync("on_reload", next.Pool.Workers).ConfigureAwait(false);
            }

            pool.Reload(next.Pool);
            current = next;
        }
    }

    /// <summary>Binds the listeners (with --umask in force for Unix sockets); returns the exit code when it cannot.</summary>
    private static async Task<int?> ListenAsync(WebApplication app, ServerOptions options, ILogger log)
    {
        bool unix = options.Binds.Any(b => b.IsUnix);
        uint previousMask = unix ? NativeMethods.umask((uint)options.Listen.Umask) : 0;
        try
        {
            await app.StartAsync().ConfigureAwait(false);
            return null;
        }
        catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            ServerLog.ConnectionInUse(log, string.Join(",", options.Binds));
            return ExitCodes.Error;
        }
        catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
        {
            ServerLog.CannotListen(log, string.Join(",", options.Binds), ex.Message);
            return ExitCodes.Error;
        }
        finally
        {
            if (unix)
            {
                NativeMethods.umask(previousMask);
            }
        }
    }

    /// <summary>The ceiling of a request line (--limit-request-line 0) and of the header fields together.</summary>
    private const int RequestHeadCeiling = 1024 * 1024;

    /// <summary>How long idle workers get to exit cleanly when a graceful shutdown has used up its time.</summary>
    private static readonly TimeSpan MinimumStopGrace = TimeSpan.FromMilliseconds(500);

    /// <summary>The configuration read again, keeping what only a restart changes; null (and a log line) when it is invalid.</summary>
    private static ServerOptions? ReadConfiguration(ServerOptions current, Func<(ServerOptions?, string?)>? reload, ILogger log)
    {
        if (reload is null)
        {
            return current;
        }

        (ServerOptions? options, string? error) = reload();
        if (options is null)
        {
            ServerLog.ReloadConfigInvalid(log, error ?? "invalid configuration");
            return null;
        }

        string[] changed = [.. current.RestartOnly.Where(kv => options.RestartOnly.TryGetValue(kv.Key, out string? value) && value != kv.Value).Select(kv => kv.Key)];
        if (changed.Length > 0)
        {
            ServerLog.NotReloaded(log, string.Join(", ", changed));
        }

        return options with { Binds = current.Binds, Static = current.Static, RestartOnly = current.RestartOnly };
    }

    private static string SignalName(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => "hup",
        PosixSignal.SIGINT => "int",
        PosixSignal.SIGQUIT => "quit",
        PosixSignal.SIGTERM => "term",
        PosixSignal.SIGTTIN => "ttin",
        PosixSignal.SIGTTOU => "ttou",
        SIGUSR1 => "usr1",
        _ => signal.ToString().ToLowerInvariant(),
    };

    private static StaticFileHandler MountStatic(IReadOnlyList<StaticMapping> mappings, ILogger log)
    {
        var mounts = new List<StaticMount>();
        foreach (StaticMapping mapping in mappings)
        {
            string? root = StaticPath.RealPath(mapping.Directory);
            if (root is null || !Directory.Exists(root))
            {
                ServerLog.StaticDirectoryMissing(log, mapping.Prefix, mapping.Directory);
                root = mapping.Directory.TrimEnd('/');
            }

            mounts.Add(new StaticMount(mapping.Prefix, root));
        }

        return new StaticFileHandler(mounts, TimeProvider.System, log);
    }

    private static void ConfigureLogging(ILoggingBuilder logging, LineLoggerProvider errorLog, string level)
    {
        logging.ClearProviders();
        logging.AddProvider(errorLog);
        logging.SetMinimumLevel(level switch
        {
            "debug" => LogLevel.Debug,
            "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "critical" => LogLevel.Critical,
            _ => LogLevel.Information,
        });
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        // "Hosting failed to start" with a stack: Lanner reports a failed listen itself, in one line.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        if (level == "debug")
        {
            // As gunicorn's debug "Invalid request from ..." line: the requests Kestrel refuses
            // itself (a malformed request line or header, a URL over the limit) never reach Lanner.
            logging.AddFilter(LineLoggerProvider.BadRequestsCategory, LogLevel.Debug);
        }

        // Lanner writes its own request logs; ASP.NET's would start an Activity and a scope per request.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
    }

    /// <summary>
    /// The address each bind listens on (null for a Unix socket). False, with the bind and the
    /// reason in <paramref name="problem"/>, when a host name does not resolve or a socket's
    /// directory is missing.
    /// </summary>
    private static bool TryResolveBinds(IReadOnlyList<BindAddress> binds, out IReadOnlyList<(BindAddress Bind, IPAddress? Address)> endpoints, out (string Address, string Why)? problem)
    {
        var resolved = new List<(BindAddress, IPAddress?)>(binds.Count);
        endpoints = resolved;
        foreach (BindAddress bind in binds)
        {
            if (bind.IsUnix)
            {
                string? directory = Path.GetDirectoryName(Path.GetFullPath(bind.UnixPath!));
                if (directory is not null && !Directory.Exists(directory))
                {
                    problem = (bind.ToString(), $"the directory {directory} does not exist");
                    return false;
                }

                resolved.Add((bind, null));
                continue;
            }

            if (IPAddress.TryParse(bind.Host, out IPAddress? parsed))
            {
                resolved.Add((bind, parsed));
                continue;
            }

            try
            {
                IPAddress? first = Dns.GetHostAddresses(bind.Host!).FirstOrDefault();
                if (first is null)
                {
                    problem = (bind.ToString(), $"the host name '{bind.Host}' has no address");
                    return false;
                }

                resolved.Add((bind, first));
            }
            catch (SocketException ex)
            {
                problem = (bind.ToString(), $"cannot resolve the host name '{bind.Host}' ({ex.Message})");
                return false;
            }
        }

        problem = null;
        return true;
    }

    /// <summary>Set on a connection once its TLS handshake is done.</summary>
    private static readonly object HandshakeDone = new();

    private static void ConfigureKestrel(KestrelServerOptions kestrel, IReadOnlyList<(BindAddress Bind, IPAddress? Address)> endpoints, ListenOptions listen,
        X509Certificate2? certificate, X509Certificate2Collection? clientAuthorities, Action<string>? refused)
    {
        kestrel.AddServerHeader = false;
        kestrel.AllowSynchronousIO = false;
        // Like gunicorn: no limit on body size by default (the app decides what it accepts).
        kestrel.Limits.MaxRequestBodySize = null;
        // --keep-alive 0: every response closes its connection (FrontDoor); Kestrel wants a positive timeout.
        if (listen.KeepAlive > TimeSpan.Zero)
        {
            kestrel.Limits.KeepAliveTimeout = listen.KeepAlive;
        }

        // gunicorn counts the request line without its CRLF, Kestrel with it; 0 is no limit in
        // gunicorn, here the 1 MiB that also bounds the header fields.
        kestrel.Limits.MaxRequestLineSize = listen.LimitRequestLine == 0 ? RequestHeadCeiling : listen.LimitRequestLine + 2;
        kestrel.Limits.MaxRequestHeaderCount = listen.LimitRequestFields == 0 ? 32768 : listen.LimitRequestFields;
        // Each field is checked against --limit-request-field_size on the way to the app; the total only guards memory.
        kestrel.Limits.MaxRequestHeadersTotalSize = RequestHeadCeiling;
        // WSGI native strings: header bytes read and written as latin-1, one char per byte.
        kestrel.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        kestrel.ResponseHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        TimeSpan headerTimeout = kestrel.Limits.RequestHeadersTimeout;
        Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> eachListener = o =>
        {
            // The PROXY header comes first on the wire, before TLS.
            if (listen.ProxyAllowIps is { } allowFrom)
            {
                o.Use(next => new ProxyProtocolMiddleware(next, allowFrom, certificate is not null, headerTimeout,
                    o.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("lanner.front"), refused).OnConnectionAsync);
            }

            if (certificate is not null)
            {
                o.Protocols = HttpProtocols.Http1AndHttp2;
                // Kestrel ends a failed handshake itself, at debug level; with metrics, a connection
                // that never gets past it is counted (lanner_connections_refused_total).
                if (refused is not null)
                {
                    o.Use(next => async connection =>
                    {
                        await next(connection).ConfigureAwait(false);
                        if (!connection.Items.ContainsKey(HandshakeDone))
                        {
                            refused("tls_handshake");
                        }
                    });
                }

                o.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateMode = listen.CertReqs switch
                    {
                        2 => ClientCertificateMode.RequireCertificate,
                        1 => ClientCertificateMode.AllowCertificate,
                        _ => ClientCertificateMode.NoCertificate,
                    },
                    ClientCertificateValidation = listen.CertReqs > 0 ? ClientCertificate.Validator(clientAuthorities) : null,
                });
                if (refused is not null)
                {
                    o.Use(next => connection =>
                    {
                        connection.Items[HandshakeDone] = true;
                        return next(connection);
                    });
                }
            }
        };
        foreach ((BindAddress bind, IPAddress? address) in endpoints)
        {
            if (address is null)
            {
                if (File.Exists(bind.UnixPath))
                {
                    File.Delete(bind.UnixPath!); // a stale socket from an earlier run, as gunicorn does
                }

                kestrel.ListenUnixSocket(bind.UnixPath!, eachListener);
                continue;
            }

            kestrel.Listen(address, bind.Port, eachListener);
        }
    }

    /// <summary>The bound addresses as gunicorn prints them: http://127.0.0.1:8000, unix:/path.</summary>
    private static IEnumerable<string> ListeningAddresses(WebApplication app)
    {
        IServer server = app.Services.GetRequiredService<IServer>();
        ICollection<string> addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (string address in addresses)
        {
            yield return address.StartsWith("http://unix:", StringComparison.Ordinal) ? address["http://".Length..] : address;
        }
    }

    /// <summary>Runs an action when disposed: cleanup that must happen on every way out.</summary>
    private sealed class AsyncScope(Func<Task> onDispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await onDispose().ConfigureAwait(false);
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = false)]
        internal static partial uint umask(uint mask);
    }

    /// <summary>The master handles signals itself (see <see cref="RunAsync"/>), not the generic host.</summary>
    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
