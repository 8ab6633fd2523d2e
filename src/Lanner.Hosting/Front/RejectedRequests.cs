using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Front;

/// <summary>
/// Requests Kestrel refuses before the request delegate runs (a malformed request line or header,
/// a target or header block over its limits): Kestrel answers them itself (400, 414, 431, …) and
/// reports each with its "BadRequest" diagnostic event, whose payload is the request's features.
/// This passes them on, so that the access log and the metrics count them as nginx does its 400s.
/// Subscribed only when there is an access log or metrics: any subscriber makes the hosting layer
/// ask the listener about its own events on every request.
/// </summary>
internal sealed class RejectedRequests(Action<IFeatureCollection> onRejected, ILogger logger) : IObserver<KeyValuePair<string, object?>>
{
    internal const string EventName = "Microsoft.AspNetCore.Server.Kestrel.BadRequest";

    public static IDisposable Subscribe(DiagnosticListener listener, Action<IFeatureCollection> onRejected, ILogger logger) =>
        listener.Subscribe(new RejectedRequests(onRejected, logger), static name => name == EventName);

    public void OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key == EventName && value.Value is IFeatureCollection features)
        {
            try
            {
                onRejected(features);
            }
            catch (Exception ex)
            {
                // This runs inside Kestrel's handling of the refused request: a failure here
                // must not change its answer or break the connection.
                FrontLog.RejectedNotRecorded(logger, ex.Message);
            }
        }
    }

    public void OnCompleted()
    {
    }

    public void OnError(Exception error)
    {
    }
}
