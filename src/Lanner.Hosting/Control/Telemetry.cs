using System.Diagnostics;
using Lanner.Hosting.Dispatch;
using Lanner.Workers;
using Prometheus;

namespace Lanner.Hosting.Control;

/// <summary>
/// The metrics of one server, in their own Prometheus registry (so /metrics holds Lanner's metrics
/// and the standard process ones, nothing else). Request metrics are recorded on the request path
/// through pre-resolved label children; pool and queue state is read when scraped.
/// Created by the server when --control-bind is set.
/// </summary>
internal sealed class Telemetry
{
    private static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"];
    private static readonly string[] Classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    private readonly Counter.Child[,] _requests;
    private readonly Histogram _duration;
    private readonly Histogram _queueWait;
    private readonly Counter _bytesIn;
    private readonly Counter _bytesOut;
    private readonly Counter _staticHits;
    private readonly Counter _failures;
    private readonly Counter _refused;

    public Telemetry(Func<IReadOnlyCollection<Worker>> workers, WorkerPool pool, Dispatcher dispatcher)
    {
        Registry = Metrics.NewCustomRegistry();
        IMetricFactory factory = Metrics.WithCustomRegistry(Registry);
        Counter requests = factory.CreateCounter("lanner_http_requests_total", "Requests answered, by method and status class.", ["method", "status"]);
        _requests = new Counter.Child[Methods.Length, Classes.Length];
        for (int m = 0; m < Methods.Length; m++)
        {
            for (int c = 0; c < Classes.Length; c++)
            {
                _requests[m, c] = requests.WithLabels(Methods[m], Classes[c]);
            }
        }

        _duration = factory.CreateHistogram("lanner_http_request_duration_seconds", "Time from the request's arrival to its last byte.",
            new HistogramConfiguration { Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _queueWait = factory.CreateHistogram("lanner_queue_wait_seconds", "Time a request waited for a worker thread.",
            new HistogramConfiguration { Buckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] });
        _bytesIn = factory.CreateCounter("lanner_http_request_body_bytes_total", "Request body bytes received (by Content-Length).");
        _bytesOut = factory.CreateCounter("lanner_http_response_body_bytes_total", "Response body bytes sent.");
        _staticHits = factory.CreateCounter("lanner_static_requests_total", "Requests answered by the master's static files, by status class.", ["status"]);
        _failures = factory.CreateCounter("lanner_failed_requests_total", "Requests Lanner answered itself (502, 503, 504), by reason.", ["reason"]);
        _refused = factory.CreateCounter("lanner_connections_refused_total",
            "Connections closed before any request: a PROXY header from a peer not allowed (proxy_not_allowed) or one that is invalid "
            + "(proxy_invalid), and TLS connections that ended before their handshake completed (tls_handshake: a certificate refused, "
            + "a failed negotiation, or a probe that connects and leaves).", ["reason"]);
        foreach (string reason in ConnectionsRefused)
        {
            _refused.WithLabels(reason); // listed at 0 from the start, so rate() sees the first one
        }

        Gauge queue = factory.CreateGauge("lanner_queue_depth", "Requests waiting for a worker (in the master, or queued on a busy worker).");
        Gauge byState = factory.CreateGauge("lanner_workers", "Worker processes, by state.", ["state"]);
        Gauge target = factory.CreateGauge("lanner_workers_target", "Worker processes the pool keeps serving.");
        // Counts kept by the pool and the OS, exposed as counters (a *_total gauge is not one to
        // Prometheus, and rate() on it is wrong across a reset): IncTo sets them when scraped.
        Counter exits = factory.CreateCounter("lanner_worker_exits_total", "Worker processes that ended, by reason.", ["reason"]);
        Counter restarts = factory.CreateCounter("lanner_worker_restarts_total", "Worker processes started to replace others.");
        Gauge rss = factory.CreateGauge("process_resident_memory_bytes", "Resident memory of the master.");
        Counter cpu = factory.CreateCounter("process_cpu_seconds_total", "CPU time of the master.");
        Gauge started = factory.CreateGauge("process_start_time_seconds", "Start time of the master (Unix seconds).");
        started.Set(new DateTimeOffset(Process.GetCurrentProcess().StartTime.ToUniversalTime()).ToUnixTimeSeconds());
        // Workers started for capacity (the first ones, TTIN's) are no restarts: the most the pool
        // was ever asked to keep, as seen at the scrapes.
        int capacity = 0;
        Registry.AddBeforeCollectCallback(() =>
        {
            queue.Set(dispatcher.WaitingCount);
            var snapshot = workers();
            foreach (WorkerState state in Enum.GetValues<WorkerState>())
            {
                byState.WithLabels(state.ToString().ToLowerInvariant()).Set(snapshot.Count(w => w.State == state));
            }

            target.Set(pool.Target);
            foreach (WorkerExitReason reason in Enum.GetValues<WorkerExitReason>())
            {
                exits.WithLabels(reason.ToString().ToLowerInvariant()).IncTo(pool.ExitCounts.GetValueOrDefault(reason));
            }

            capacity = Math.Max(capacity, pool.Target);
            restarts.IncTo(Math.Max(0, pool.Spawned - capacity));
            using Process me = Process.GetCurrentProcess();
            rss.Set(me.WorkingSet64);
            cpu.IncTo(me.TotalProcessorTime.TotalSeconds);
        });
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Requests answered so far (for /status).</summary>
    public double RequestsTotal => _duration.Count;

    /// <summary>Their summed duration in seconds (for /status: mean latency over an interval).</summary>
    public double DurationSumSeconds => _duration.Sum;

    public void Request(string method, int status, TimeSpan duration, long bytesIn, long bytesOut, bool isStatic, long queueWaitTicks)
    {
        int m = Array.IndexOf(Methods, method);
        int c = Math.Clamp(status / 100, 1, 5) - 1;
        _requests[m < 0 ? Methods.Length - 1 : m, c].Inc();
        _duration.Observe(duration.TotalSeconds);
        if (bytesIn > 0)
        {
            _bytesIn.Inc(bytesIn);
        }

        _bytesOut.Inc(bytesOut);
        if (isStatic)
        {
            _staticHits.WithLabels(Classes[c]).Inc();
        }
        else if (queueWaitTicks > 0)
        {
            _queueWait.Observe((double)queueWaitTicks / Stopwatch.Frequency);
        }
    }

    /// <summary>The reasons <see cref="ConnectionRefused"/> takes.</summary>
    public static readonly string[] ConnectionsRefused = ["proxy_not_allowed", "proxy_invalid", "tls_handshake"];

    public void Failure(string reason) => _failures.WithLabels(reason).Inc();

    public void ConnectionRefused(string reason) => _refused.WithLabels(reason).Inc();
}
