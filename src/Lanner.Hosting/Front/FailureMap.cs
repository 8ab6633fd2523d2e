using Lanner.Workers;
using Microsoft.AspNetCore.Http;
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

    /// <summary>
    /// Answers with a response Lanner makes itself (whatever the response held before is cleared):
    /// the status, its page, and Retry-After when asked. Returns the body bytes written.
    /// </summary>
    public static async Task<long> WritePageAsync(HttpResponse response, int status, byte[] page, bool retryAfter = false)
    {
        response.Clear();
        response.StatusCode = status;
        response.ContentType = "text/html; charset=utf-8";
        response.ContentLength = page.Length;
        if (retryAfter)
        {
            response.Headers.RetryAfter = "1";
        }

        await response.Body.WriteAsync(page).ConfigureAwait(false);
        return page.Length;
    }

    /// <summary>The body of a response Lanner makes itself: a short HTML page.</summary>
    public static byte[] Page(int status)
    {
        string reason = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
        return System.Text.Encoding.UTF8.GetBytes(
            $"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>\n");
    }
}
