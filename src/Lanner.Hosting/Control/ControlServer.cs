using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Lanner.Hosting.Dispatch;
using Lanner.Settings;
using Lanner.Workers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Control;

/// <summary>
/// --control-bind: /metrics (Prometheus text), /livez, /readyz (503 while draining or while no
/// worker is ready: Kubernetes probes) and /status (JSON for `lanner top`), on their own address,
/// apart from the app's traffic. Started after the main server, stopped after it (so /readyz can
/// say "draining" during a graceful shutdown).
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Telemetry _telemetry;
    private readonly WorkerPool _pool;
    private readonly Dispatcher _dispatcher;
    private readonly long _started = Stopwatch.GetTimestamp();

    public ControlServer(BindAddress bind, Telemetry telemetry, WorkerPool pool, Dispatcher dispatcher)
    {
        _telemetry = telemetry;
        _pool = pool;
        _dispatcher = dispatcher;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, NoLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            if (bind.IsUnix)
            {
                if (File.Exists(bind.UnixPath))
                {
                    File.Delete(bind.UnixPath!);
                }

                k.ListenUnixSocket(bind.UnixPath!);
            }
            else
            {
                k.Listen(IPAddress.TryParse(bind.Host, out IPAddress? ip) ? ip : Dns.GetHostAddresses(bind.Host!)[0], bind.Port);
            }
        });
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    /// <summary>Set when a graceful shutdown begins: /readyz answers 503 from then on.</summary>
    public bool Draining { get; set; }

    public async Task<string> StartAsync()
    {
        await _app.StartAsync().ConfigureAwait(false);
        return string.Join(",", _app.Urls);
    }

    private async Task HandleAsync(HttpContext context)
    {
        HttpResponse response = context.Response;
        string method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            // Read-only endpoints: a POST or DELETE here is a mistake worth seeing.
            response.StatusCode = 405;
            response.Headers.Allow = "GET, HEAD";
            return;
        }

        switch (context.Request.Path.Value)
        {
            case "/metrics":
                response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await _telemetry.Registry.CollectAndExportAsTextAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
                break;
            case "/livez":
                response.ContentType = "text/plain";
                await response.WriteAsync("ok\n").ConfigureAwait(false);
                break;
            case "/readyz":
                response.ContentType = "text/plain";
                string? why = Draining ? "draining" : !_pool.Workers.Any(w => w.State == WorkerState.Ready) ? "no worker is ready" : null;
                response.StatusCode = why is null ? 200 : 503;
                await response.WriteAsync(why is null ? "ready\n" : $"not ready: {why}\n").ConfigureAwait(false);
                break;
            case "/status":
                response.ContentType = "application/json";
                await JsonSerializer.SerializeAsync(response.Body, Status(), StatusJson.Options).ConfigureAwait(false);
                break;
            default:
                response.StatusCode = 404;
                break;
        }
    }

    private StatusSnapshot Status()
    {
        long now = Stopwatch.GetTimestamp();
        var workers = _pool.Workers.Select(w =>
        {
            (Exchange? running, long since) = w.OldestRunning();
            return new WorkerSnapshot(w.Id, w.Pid, w.State.ToString().ToLowerInvariant(), w.Generation, w.Retiring, w.Served, w.InFlight,
                running?.RequestLine, running is null ? null : Stopwatch.GetElapsedTime(since, now).TotalSeconds,
                w.State is WorkerState.Ready or WorkerState.Draining ? w.ResidentBytes() : 0);
        }).ToList();
        return new StatusSnapshot(Environment.ProcessId, Stopwatch.GetElapsedTime(_started, now).TotalSeconds, _pool.Target, _pool.Generation,
            _dispatcher.WaitingCount, Draining, workers, _telemetry.RequestsTotal, _telemetry.DurationSumSeconds);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class NoLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>/status: what `lanner top` shows.</summary>
public sealed record StatusSnapshot(int Pid, double UptimeSeconds, int Target, int Generation, int Queue, bool Draining,
    IReadOnlyList<WorkerSnapshot> Workers, double RequestsTotal, double DurationSumSeconds);

public sealed record WorkerSnapshot(int Id, int Pid, string State, int Generation, bool Retiring, long Served, int InFlight,
    string? Current, double? CurrentSeconds, long RssBytes);

/// <summary>How /status is written and read: snake_case JSON.</summary>
public static class StatusJson
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = false };
}
