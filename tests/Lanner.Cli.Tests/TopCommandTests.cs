using Lanner.Hosting.Control;
using Spectre.Console;
using Spectre.Console.Testing;

namespace Lanner.Cli.Tests;

public class TopCommandTests
{
    private static WorkerSnapshot Worker(int id, long served, string? current = null, double? age = null) =>
        new(id, 1000 + id, "ready", 1, false, served, current is null ? 0 : 1, current, age, 50L * 1024 * 1024);

    private static StatusSnapshot Status(double requests, double durationSum, params WorkerSnapshot[] workers) =>
        new(42, 3725, 2, 1, 3, false, workers, requests, durationSum);

    [Fact]
    public void Sample_RatesComeFromTheDifferenceBetweenReadings()
    {
        var sample = new TopCommand.Sample(
            Status(100, 1.0, Worker(1, 60), Worker(2, 40)),
            Status(300, 3.0, Worker(1, 160), Worker(3, 20)),
            2.0, "127.0.0.1:9000");

        Assert.Equal(100, sample.RequestsPerSecond);
        Assert.Equal(10.0, sample.MeanLatencyMs!.Value, 6); // 2 s over 200 requests
        Assert.Equal(100, sample.ServedSince(sample.Now.Workers[0]));
        Assert.Equal(20, sample.ServedSince(sample.Now.Workers[1])); // a new worker: everything it served
    }

    [Fact]
    public void Sample_WithNoRequests_HasNoLatency()
    {
        var sample = new TopCommand.Sample(Status(5, 1, Worker(1, 5)), Status(5, 1, Worker(1, 5)), 1.0, "x");
        Assert.Null(sample.MeanLatencyMs);
        Assert.Equal(0, sample.RequestsPerSecond);
    }

    [Fact]
    public void Render_ShowsTheSummaryAndEveryWorkerWithItsCurrentRequest()
    {
        var sample = new TopCommand.Sample(
            Status(100, 1.0, Worker(1, 60), Worker(2, 40)),
            Status(300, 3.0, Worker(1, 160, "GET /slow [ab12]", 4.2), Worker(2, 140)),
            2.0, "127.0.0.1:9000",
            new LatencyHistogram([(0.005, 100), (0.01, 100), (double.PositiveInfinity, 100)]),
            new LatencyHistogram([(0.005, 200), (0.01, 300), (double.PositiveInfinity, 300)]));
        var console = new TestConsole().Width(160);

        console.Write(TopCommand.Render(sample));
        string text = console.Output;

        Assert.Contains("lanner pid 42 at 127.0.0.1:9000", text);
        Assert.Contains("up 1h02m", text);
        Assert.Contains("workers 2/2 ready", text);
        Assert.Contains("queue 3", text);
        // 200 requests since: 100 under 5 ms, 100 between 5 and 10 ms.
        Assert.Contains("rate 100.0/s  mean latency 10.0 ms  p50 5.0 ms  p99 9.9 ms", text);
        string[] rows = text.Split('\n');
        string first = Assert.Single(rows, r => r.Contains("1001"));
        Assert.Contains("GET /slow [ab12]", first);
        Assert.Contains("4.2 s", first);
        Assert.Contains("50.0", first);
        Assert.Contains("50.0", Assert.Single(rows, r => r.Contains("1002")));
    }
}
