using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Lanner.Hosting.Dispatch;
using Lanner.Hosting.Front;
using Lanner.Hosting.Front.Static;
using Lanner.Protocol;
using Lanner.Settings;
using Lanner.Workers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

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
public static class LannerServer
{
    /// <summary>Runs the server until a terminating signal; returns the exit code.</summary>
    /// <param name="options">The configuration to start with.</param>
    /// <param name="reload">Reads the configuration again (HUP); returns an error message instead when it is invalid.</param>
    public static async Task<int> RunAsync(ServerOptions options, Func<(ServerOptions? Options, string? Error)>? reload = null)
    {
        var signals = Channel.CreateUnbounded<ServerEvent>();
        var registrations = new List<PosixSignalRegistration>();
        foreach (PosixSignal signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGHUP, PosixSignal.SIGTTIN, PosixSignal.SIGTTOU })
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
        ChannelReader<ServerEvent> signals = events.Reader;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        ConfigureLogging(builder.Logging);
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, options.Binds));
        // Requests run on the socket threads that read them, without a hop to the thread pool
        // (see docs/decisions/0002-inline-io.md).
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);

        await using WebApplication app = builder.Build();
        ILoggerFactory loggers = app.Services.GetRequiredService<ILoggerFactory>();
        ILogger log = loggers.CreateLogger("lanner");
        ILogger poolLog = loggers.CreateLogger("lanner.workers");
        ILogger frontLog = loggers.CreateLogger("lanner.front");

        using var dispatcher = new Dispatcher(options.Dispatch, TimeProvider.System);
        await using var pool = new WorkerPool(options.Pool, dispatcher, TimeProvider.System, poolLog);
        var handler = new AppHandler(dispatcher, new AppResponder(frontLog), options.ScriptName);
        StaticFileHandler statics = MountStatic(options.Static, log);
        app.Run(context =>
        {
            if (statics.HasMounts)
            {
                string rawPath = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
                if (statics.Match(rawPath) is { } mount)
                {
                    return statics.ServeAsync(context, mount, rawPath);
                }
            }

            return handler.HandleAsync(context);
        });

        ServerLog.Starting(log, options.Version);
        try
        {
            await app.StartAsync().ConfigureAwait(false);
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

        ServerLog.Listening(log, string.Join(",", ListeningAddresses(app)), Environment.ProcessId);
        ServerLog.UsingWorker(log, options.Pool.Threads > 1 ? "gthread" : "sync");
        pool.Start();

        using SourceWatcher? watcher = options.WatchDirectory is null ? null
            : new SourceWatcher(options.WatchDirectory, options.WatchExtraFiles, TimeProvider.System,
                file => events.Writer.TryWrite(new ServerEvent(null, file)));
        if (watcher is not null)
        {
            ServerLog.Watching(log, options.WatchDirectory!);
        }

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
                current = Reload(current, reload, pool, log);
                continue;
            }

            PosixSignal signal = next.Signal!.Value;
            ServerLog.HandlingSignal(log, SignalName(signal));
            switch (signal)
            {
                case PosixSignal.SIGHUP:
                    current = Reload(current, reload, pool, log);
                    break;
                case PosixSignal.SIGTTIN:
                    pool.ChangeTarget(+1);
                    break;
                case PosixSignal.SIGTTOU:
                    pool.ChangeTarget(-1);
                    break;
                case PosixSignal.SIGQUIT:
                    // Fast: drop everything now.
                    dispatcher.Stop();
                    foreach (Worker worker in pool.Workers)
                    {
                        worker.Kill();
                    }

                    await app.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
                    await pool.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                    ServerLog.ShuttingDown(log);
                    return ExitCodes.Ok;
                default:
                    // TERM, INT: stop accepting and let every accepted request finish; the workers keep serving.
                    using (var grace = new CancellationTokenSource(current.GracefulTimeout))
                    {
                        await app.StopAsync(grace.Token).ConfigureAwait(false);
                    }

                    dispatcher.Stop();
                    await pool.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                    ServerLog.ShuttingDown(log);
                    return ExitCodes.Ok;
            }
        }
    }

    private static ServerOptions Reload(ServerOptions current, Func<(ServerOptions?, string?)>? reload, WorkerPool pool, ILogger log)
    {
        ServerOptions next = current;
        if (reload is not null)
        {
            (ServerOptions? options, string? error) = reload();
            if (options is null)
            {
                ServerLog.ReloadConfigInvalid(log, error ?? "invalid configuration");
                return current;
            }

            if (!options.Binds.SequenceEqual(current.Binds))
            {
                ServerLog.BindsNotReloaded(log);
            }

            next = options with { Binds = current.Binds, Static = current.Static };
        }

        pool.Reload(next.Pool);
        return next;
    }

    private static string SignalName(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => "hup",
        PosixSignal.SIGINT => "int",
        PosixSignal.SIGQUIT => "quit",
        PosixSignal.SIGTERM => "term",
        PosixSignal.SIGTTIN => "ttin",
        PosixSignal.SIGTTOU => "ttou",
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

        return new StaticFileHandler(mounts, TimeProvider.System);
    }

    private static void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.AddConsole(o =>
        {
            o.FormatterName = GunicornConsoleFormatter.FormatterName;
            o.LogToStandardErrorThreshold = LogLevel.Trace;
        });
        logging.AddConsoleFormatter<GunicornConsoleFormatter, ConsoleFormatterOptions>();
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        // Lanner writes its own request logs; ASP.NET's would start an Activity and a scope per request.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, IReadOnlyList<BindAddress> binds)
    {
        kestrel.AddServerHeader = false;
        kestrel.AllowSynchronousIO = false;
        // Like gunicorn: no limit on body size by default (the app decides what it accepts).
        kestrel.Limits.MaxRequestBodySize = null;
        // WSGI native strings: header bytes read and written as latin-1, one char per byte.
        kestrel.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        kestrel.ResponseHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        foreach (BindAddress bind in binds)
        {
            if (bind.IsUnix)
            {
                if (File.Exists(bind.UnixPath))
                {
                    File.Delete(bind.UnixPath!); // a stale socket from an earlier run, as gunicorn does
                }

                kestrel.ListenUnixSocket(bind.UnixPath!);
                continue;
            }

            IPAddress address = IPAddress.TryParse(bind.Host, out IPAddress? parsed)
                ? parsed
                : Dns.GetHostAddresses(bind.Host!).FirstOrDefault()
                  ?? throw new IOException($"cannot resolve '{bind.Host}'");
            kestrel.Listen(address, bind.Port);
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

    /// <summary>The master handles signals itself (see <see cref="RunAsync"/>), not the generic host.</summary>
    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
