namespace Lanner.Cli.Tests;

public class LatencyHistogramTests
{
    private static string Metrics(params (string Le, int Count)[] buckets) =>
        "# HELP lanner_http_request_duration_seconds Time from the request's arrival to its last byte.\n"
        + "# TYPE lanner_http_request_duration_seconds histogram\n"
        + "lanner_http_request_duration_seconds_sum 1.5\n"
        + "lanner_http_request_duration_seconds_count " + buckets[^1].Count + "\n"
        + string.Concat(buckets.Select(b => $"lanner_http_request_duration_seconds_bucket{{le=\"{b.Le}\"}} {b.Count}\n"))
        + "lanner_queue_wait_seconds_bucket{le=\"0.001\"} 999\n";

    [Fact]
    public void Parse_ReadsOnlyTheRequestDurationBuckets_InOrder()
    {
        LatencyHistogram h = LatencyHistogram.Parse(Metrics(("0.001", 1), ("0.01", 5), ("+Inf", 6)));
        Assert.Equal([(0.001, 1.0), (0.01, 5.0), (double.PositiveInfinity, 6.0)], h.Buckets);
    }

    [Fact]
    public void Quantile_InterpolatesWithinTheBucketOfTheRank_OverTheRequestsBetweenReadings()
    {
        LatencyHistogram before = LatencyHistogram.Parse(Metrics(("0.001", 10), ("0.01", 10), ("0.1", 10), ("+Inf", 10)));
        // Since then: 50 requests under 1 ms, 40 between 1 and 10 ms, 10 between 10 and 100 ms.
        LatencyHistogram now = LatencyHistogram.Parse(Metrics(("0.001", 60), ("0.01", 100), ("0.1", 110), ("+Inf", 110)));

        Assert.Equal(0.001, LatencyHistogram.Quantile(before, now, 0.5)!.Value, 9);               // rank 50: top of the first bucket
        Assert.Equal(0.001 + (0.009 * 25 / 40), LatencyHistogram.Quantile(before, now, 0.75)!.Value, 9);
        Assert.Equal(0.01 + (0.09 * 9 / 10), LatencyHistogram.Quantile(before, now, 0.99)!.Value, 9);
    }

    [Fact]
    public void Quantile_BeyondTheLastFiniteBound_IsThatBound()
    {
        LatencyHistogram before = LatencyHistogram.Parse(Metrics(("0.1", 0), ("+Inf", 0)));
        LatencyHistogram now = LatencyHistogram.Parse(Metrics(("0.1", 1), ("+Inf", 10)));
        Assert.Equal(0.1, LatencyHistogram.Quantile(before, now, 0.99));
    }

    [Fact]
    public void Quantile_WithoutNewRequests_IsUnknown()
    {
        LatencyHistogram h = LatencyHistogram.Parse(Metrics(("0.1", 3), ("+Inf", 3)));
        Assert.Null(LatencyHistogram.Quantile(h, h, 0.5));
        Assert.Null(LatencyHistogram.Quantile(h, LatencyHistogram.Parse(""), 0.5));
    }
}
