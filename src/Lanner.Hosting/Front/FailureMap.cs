using Lanner.Workers;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Front;

/// <summary>The one table from a failure to its HTTP status, log level and metric label.</summary>
internal static class FailureMap
{
    public readonly record struct Entry(int Status, LogLevel Level, string Label, bool RetryAfter);

    public static Entry Of(ExchangeFailure failure) => failure switch
    {
        ExchangeFailure.WorkerDied => new(502, LogLevel.Error, "worker_died", false),
        ExchangeFailure.WorkerProtocolError => new(502, LogLevel.Error, "worker_protocol_error", false),
        ExchangeFailure.QueueFull => new(503, LogLevel.Warning, "queue_full", true),
        ExchangeFailure.QueueTimeout => new(503, LogLevel.Warning, "queue_timeout", true),
        ExchangeFailure.NoWorkers => new(503, LogLevel.Warning, "no_workers", true),
        ExchangeFailure.ShuttingDown => new(503, LogLevel.Information, "shutting_down", true),
        ExchangeFailure.Timeout => new(504, LogLevel.Error, "timeout", false),
        _ => new(500, LogLevel.Error, "internal", false),
    };

    /// <summary>The body of a response Lanner makes itself: a short HTML page.</summary>
    public static byte[] Page(int status)
    {
        string reason = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
        return System.Text.Encoding.UTF8.GetBytes(
            $"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>\n");
    }
}
