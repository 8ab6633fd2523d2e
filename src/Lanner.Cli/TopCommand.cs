using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using Lanner.Hosting.Control;
using Lanner.Hosting.Server;
using Lanner.Settings;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Lanner.Cli;

/// <summary>
/// <c>lanner top [--once] [--interval SECONDS] ADDRESS</c>: a live view of a running server, read
/// from the /status endpoint of its --control-bind (HOST:PORT or unix:PATH; LANNER_CONTROL_BIND
/// when no address is given). In a terminal it redraws every interval until Ctrl-C; with --once,
/// or when the output is not a terminal, it prints one view (rates measured over one interval).
/// </summary>
internal static class TopCommand
{
    private const string Usage = "usage: lanner top [--once] [--interval SECONDS] CONTROL_ADDRESS (the server's --control-bind, e.g. 127.0.0.1:9000)";

    public static async Task<int> RunAsync(string[] args)
    {
        bool once = false;
        double interval = 1.0;
        string? address = Environment.GetEnvironmentVariable("LANNER_CONTROL_BIND");
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--once":
                    once = true;
                    break;
                case "--interval" when i + 1 < args.Length
                    && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out interval) && interval > 0:
                    i++;
                    break;
                case "-h" or "--help":
                    Console.WriteLine(Usage);
                    return ExitCodes.Ok;
                case var arg when !arg.StartsWith('-'):
                    address = arg;
                    break;
                default:
                    Console.Error.WriteLine($"lanner top: error: unknown or incomplete option '{args[i]}' (--interval takes a positive number of seconds)");
                    Console.Error.WriteLine(Usage);
                    return ExitCodes.Usage;
            }
        }

        if (string.IsNullOrEmpty(address))
        {
            Console.Error.WriteLine("lanner top: error: no control address given");
            Console.Error.WriteLine(Usage);
            return ExitCodes.Usage;
        }

        BindAddress bind;
        try
        {
            bind = BindAddress.Parse(address);
        }
        catch (SettingException ex)
        {
            Console.Error.WriteLine($"lanner top: error: {ex.Message}");
            return ExitCodes.Usage;
        }

        using HttpClient client = ClientFor(bind);
        once |= Console.IsOutputRedirected;
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };

        try
        {
            (StatusSnapshot first, LatencyHistogram firstLatency) = await FetchAsync(client).ConfigureAwait(false);
            DateTimeOffset firstAt = DateTimeOffset.UtcNow;
            await Task.Delay(TimeSpan.FromSeconds(interval), stop.Token).ConfigureAwait(false);
            (StatusSnapshot now, LatencyHistogram nowLatency) = await FetchAsync(client).ConfigureAwait(false);
            Sample sample = new(first, now, (DateTimeOffset.UtcNow - firstAt).TotalSeconds, address, firstLatency, nowLatency);
            if (once)
            {
                IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
                {
                    Ansi = Console.IsOutputRedirected ? AnsiSupport.No : AnsiSupport.Detect,
                    ColorSystem = Console.IsOutputRedirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
                });
                if (Console.IsOutputRedirected)
                {
                    console.Profile.Width = 160;
                }

                console.Write(Render(sample));
                return ExitCodes.Ok;
            }

            await AnsiConsole.Live(Render(sample)).StartAsync(async live =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Sample previous = sample;
                    DateTimeOffset at = DateTimeOffset.UtcNow;
                    await Task.Delay(TimeSpan.FromSeconds(interval), stop.Token).ConfigureAwait(false);
                    (StatusSnapshot next, LatencyHistogram latency) = await FetchAsync(client).ConfigureAwait(false);
                    sample = new Sample(previous.Now, next, (DateTimeOffset.UtcNow - at).TotalSeconds, address, previous.NowLatency, latency);
                    live.UpdateTarget(Render(sample));
                }
            }).ConfigureAwait(false);
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
        catch (HttpRequestException ex)
        {
            Console.Error.WriteLine($"lanner top: error: cannot read {address}/status: {ex.Message} (is lanner running with --control-bind {address}?)");
            return ExitCodes.Error;
        }
    }

    private static HttpClient ClientFor(BindAddress bind)
    {
        if (!bind.IsUnix)
        {
            string host = bind.Host!.Contains(':', StringComparison.Ordinal) ? $"[{bind.Host}]" : bind.Host!;
            return new HttpClient { BaseAddress = new Uri($"http://{host}:{bind.Port}/"), Timeout = TimeSpan.FromSeconds(5) };
        }

        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(bind.UnixPath!), token).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = TimeSpan.FromSeconds(5) };
    }

    private static async Task<(StatusSnapshot, LatencyHistogram)> FetchAsync(HttpClient client)
    {
        StatusSnapshot status = await client.GetFromJsonAsync<StatusSnapshot>("status", StatusJson.Options).ConfigureAwait(false)
            ?? throw new HttpRequestException("/status answered nothing");
        string metrics = await client.GetStringAsync("metrics").ConfigureAwait(false);
        return (status, LatencyHistogram.Parse(metrics));
    }

    /// <summary>Two readings of /status (and the latency histogram), <see cref="Seconds"/> apart: rates come from their difference.</summary>
    internal sealed record Sample(StatusSnapshot Before, StatusSnapshot Now, double Seconds, string Address,
        LatencyHistogram? BeforeLatency = null, LatencyHistogram? NowLatency = null)
    {
        /// <summary>A latency quantile of the requests answered between the readings, in ms; null when there were none.</summary>
        public double? LatencyQuantileMs(double q) =>
            BeforeLatency is null || NowLatency is null ? null : LatencyHistogram.Quantile(BeforeLatency, NowLatency, q) * 1000;

        public double RequestsPerSecond => Math.Max(0, Now.RequestsTotal - Before.RequestsTotal) / Seconds;

        /// <summary>Mean latency of the requests answered between the readings, in ms; null when there were none.</summary>
        public double? MeanLatencyMs
        {
            get
            {
                double count = Now.RequestsTotal - Before.RequestsTotal;
                return count > 0 ? (Now.DurationSumSeconds - Before.DurationSumSeconds) / count * 1000 : null;
            }
        }

        /// <summary>Requests each worker served between the readings (its count restarts when it is replaced).</summary>
        public long ServedSince(WorkerSnapshot worker) =>
            Before.Workers.FirstOrDefault(w => w.Id == worker.Id) is { } earlier ? worker.Served - earlier.Served : worker.Served;
    }

    /// <summary>The view: a summary line and one row per worker.</summary>
    internal static IRenderable Render(Sample sample)
    {
        StatusSnapshot now = sample.Now;
        string state = now.Draining ? "[yellow]draining[/]" : "[green]serving[/]";
        static string Ms(double? ms) => ms is { } v ? v.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-";
        string latency = $"{Ms(sample.MeanLatencyMs)}  p50 {Ms(sample.LatencyQuantileMs(0.5))}  p99 {Ms(sample.LatencyQuantileMs(0.99))}";
        var summary = new Markup(
            $"lanner pid {now.Pid} at {Markup.Escape(sample.Address)}  {state}  up {Duration(now.UptimeSeconds)}  "
            + $"workers {now.Workers.Count(w => w.State == "ready")}/{now.Target} ready  generation {now.Generation}  queue {now.Queue}\n"
            + $"requests {now.RequestsTotal.ToString("0", CultureInfo.InvariantCulture)}  "
            + $"rate {sample.RequestsPerSecond.ToString("0.0", CultureInfo.InvariantCulture)}/s  mean latency {latency}\n");

        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("ID", "PID", "STATE", "GEN", "SERVED", "REQ/S", "BUSY", "RSS MB", "CURRENT REQUEST", "AGE");
        foreach (WorkerSnapshot worker in now.Workers.OrderBy(w => w.Id))
        {
            table.AddRow(
                worker.Id.ToString(CultureInfo.InvariantCulture),
                worker.Pid.ToString(CultureInfo.InvariantCulture),
                worker.Retiring ? worker.State + " (retiring)" : worker.State,
                worker.Generation.ToString(CultureInfo.InvariantCulture),
                worker.Served.ToString(CultureInfo.InvariantCulture),
                (sample.ServedSince(worker) / sample.Seconds).ToString("0.0", CultureInfo.InvariantCulture),
                worker.InFlight.ToString(CultureInfo.InvariantCulture),
                (worker.RssBytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture),
                Markup.Escape(worker.Current ?? "-"),
                worker.CurrentSeconds is { } age ? age.ToString("0.0", CultureInfo.InvariantCulture) + " s" : "-");
        }

        return new Rows(summary, table);
    }

    private static string Duration(double seconds)
    {
        var span = TimeSpan.FromSeconds(seconds);
        return span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:00}m" : span.TotalMinutes >= 1 ? $"{span.Minutes}m{span.Seconds:00}s" : $"{span.Seconds}s";
    }
}
