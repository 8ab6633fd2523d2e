using System.Globalization;

namespace Lanner.Cli;

/// <summary>
/// The request-latency histogram read from /metrics (cumulative bucket counts, as Prometheus
/// exposes them), and quantiles of the requests answered between two readings, estimated the way
/// Prometheus's histogram_quantile does: linear within the bucket that holds the rank.
/// </summary>
internal sealed record LatencyHistogram(IReadOnlyList<(double UpperBound, double Count)> Buckets)
{
    private const string Metric = "lanner_http_request_duration_seconds_bucket{";

    public static LatencyHistogram Parse(string metricsText)
    {
        var buckets = new List<(double, double)>();
        foreach (string line in metricsText.Split('\n'))
        {
            if (!line.StartsWith(Metric, StringComparison.Ordinal))
            {
                continue;
            }

            int le = line.IndexOf("le=\"", StringComparison.Ordinal);
            int close = le < 0 ? -1 : line.IndexOf('"', le + 4);
            int space = line.LastIndexOf(' ');
            if (close < 0 || space < close
                || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double count))
            {
                continue;
            }

            string bound = line[(le + 4)..close];
            double upper = bound == "+Inf" ? double.PositiveInfinity : double.Parse(bound, NumberStyles.Float, CultureInfo.InvariantCulture);
            buckets.Add((upper, count));
        }

        buckets.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return new LatencyHistogram(buckets);
    }

    /// <summary>The q-quantile (0..1) in seconds of the requests counted in <paramref name="now"/> but not in <paramref name="before"/>; null without any.</summary>
    public static double? Quantile(LatencyHistogram before, LatencyHistogram now, double q)
    {
        if (now.Buckets.Count == 0 || before.Buckets.Count != now.Buckets.Count)
        {
            return null;
        }

        double Delta(int i) => now.Buckets[i].Count - before.Buckets[i].Count;
        double total = Delta(now.Buckets.Count - 1);
        if (total <= 0)
        {
            return null;
        }

        double rank = q * total;
        for (int i = 0; i < now.Buckets.Count; i++)
        {
            double cumulative = Delta(i);
            if (cumulative < rank)
            {
                continue;
            }

            double upper = now.Buckets[i].UpperBound;
            double lower = i == 0 ? 0 : now.Buckets[i - 1].UpperBound;
            if (double.IsPositiveInfinity(upper))
            {
                return lower; // beyond the last finite bound: that bound is all that is known
            }

            double below = i == 0 ? 0 : Delta(i - 1);
            double inBucket = cumulative - below;
            return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below) / inBucket);
        }

        return null;
    }
}
