using System.Diagnostics;
using System.Security.Cryptography;
using Lanner.Hosting.Control;
using Lanner.Hosting.Front.Logs;
using Lanner.Hosting.Front.Static;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Lanner.Hosting.Front;

/// <summary>
/// The request delegate: static files or the app, with the X-Request-ID settled first, and the
/// access log and metrics written after. Without either, requests take the direct path.
/// One per server.
/// </summary>
internal sealed class FrontDoor(AppHandler app, StaticFileHandler statics, FrontOptions options, AccessLogger? accessLog, Telemetry? telemetry)
{
    private static readonly string IdPrefix = Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
    private static long s_nextId;

    /// <summary>Whether requests are logged or counted (then <see cref="Rejected"/> wants Kestrel's refusals too).</summary>
    public bool Observed { get; } = accessLog is not null || telemetry is not null;

    /// <summary>nginx's status for a request whose client left before the response: it is only logged, never sent.</summary>
    internal const int ClientClosedRequest = 499;

    private static readonly byte[] Page405 = FailureMap.Page(StatusCodes.Status405MethodNotAllowed);

    public Task HandleAsync(HttpContext context)
    {
        if (!options.KeepAlive && !HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
        {
            context.Response.Headers.Connection = "close"; // --keep-alive 0
        }

        if (HttpMethods.IsConnect(context.Request.Method) && context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect != true)
        {
            return Observed ? ObservedAsync(context, null, "", connect: true) : RefuseConnectAsync(context);
        }

        string rawPath = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        StaticMount? mount = statics.HasMounts ? statics.Match(rawPath) : null;
        if (!Observed)
        {
            return mount is null ? app.HandleAsync(context, EnvironWriter.FactsOf(context, options), RequestId(context)) : ServeStaticAsync(context, mount, rawPath);
        }

        return ObservedAsync(context, mount, rawPath);
    }

    private async Task ObservedAsync(HttpContext context, StaticMount? mount, string rawPath, bool connect = false)
    {
        long started = Stopwatch.GetTimestamp();
        string requestId = RequestId(context);
        RequestFacts? facts = null;
        AppHandler.Outcome outcome;
        if (connect)
        {
            outcome = await RefuseConnectAsync(context).ConfigureAwait(false);
        }
        else if (mount is null)
        {
            facts = EnvironWriter.FactsOf(context, options);
            outcome = await app.HandleAsync(context, facts.Value, requestId).ConfigureAwait(false);
        }
        else
        {
            await ServeStaticAsync(context, mount, rawPath).ConfigureAwait(false);
            outcome = new AppHandler.Outcome(HttpMethods.IsHead(context.Request.Method) ? 0 : context.Response.ContentLength ?? 0, Environment.ProcessId, 0);
        }

        TimeSpan duration = Stopwatch.GetElapsedTime(started);
        int status = outcome.ClientGoneBefore ? ClientClosedRequest : context.Response.StatusCode;
        telemetry?.Request(context.Request.Method, status, duration, context.Request.ContentLength ?? 0, outcome.BytesSent, mount is not null, outcome.QueueWaitTicks);
        accessLog?.Log(new AccessRecord(
            facts ?? EnvironWriter.FactsOf(context, options), context.Request.Headers, context.Response.Headers, status,
            outcome.BytesSent, duration, DateTimeOffset.Now, outcome.Pid, requestId));
    }

    /// <summary>A static file, once the request's header fields are within --limit-request-field_size (as for the app).</summary>
    private Task ServeStaticAsync(HttpContext context, StaticMount mount, string rawPath)
    {
        if (EnvironWriter.AnyFieldTooLarge(context.Request.Headers, options.LimitRequestFieldSize))
        {
            context.Response.StatusCode = StatusCodes.Status431RequestHeaderFieldsTooLarge;
            context.Response.Headers.Connection = "close";
            return Task.CompletedTask;
        }

        return statics.ServeAsync(context, mount, rawPath);
    }

    /// <summary>
    /// CONNECT asks for a tunnel, which neither WSGI nor Lanner provides: as nginx does (since
    /// 1.21.1), it is refused with 405 before it reaches the app. Passed on, an app's 2xx answer
    /// would be one Kestrel cannot send (a 2xx to CONNECT opens the tunnel; it has no body).
    /// </summary>
    private static async Task<AppHandler.Outcome> RefuseConnectAsync(HttpContext context) =>
        new(await FailureMap.WritePageAsync(context.Response, StatusCodes.Status405MethodNotAllowed, Page405).ConfigureAwait(false), Environment.ProcessId, 0);

    /// <summary>
    /// A request Kestrel refused and answered itself (see <see cref="RejectedRequests"/>): its
    /// access-log line and its count. Called on the connection's thread before Kestrel writes
    /// the answer, so the status is set and the body is empty.
    /// </summary>
    public void Rejected(IFeatureCollection features)
    {
        if (features.Get<IHttpResponseFeature>()?.HasStarted == true || features.Get<IHttpMaxRequestBodySizeFeature>()?.IsReadOnly == true)
        {
            // Refused while its body was read, so the request delegate ran and logs it (as a
            // 400 of its own, or with the status the app had already sent).
            return;
        }

        var context = new DefaultHttpContext(features);
        RequestFacts facts = EnvironWriter.FactsOf(context, options);
        if (facts.Method.Length == 0)
        {
            // The request line itself was refused: nothing of it is known.
            facts = facts with { Method = "-", RawTarget = "-", Protocol = "-" };
        }

        int status = context.Response.StatusCode;
        telemetry?.Request(facts.Method, status, TimeSpan.Zero, 0, 0, false, 0);
        accessLog?.Log(new AccessRecord(
            facts, context.Request.Headers, context.Response.Headers, status, 0, TimeSpan.Zero, DateTimeOffset.Now, Environment.ProcessId, RequestId(context)));
    }

    /// <summary>The client's X-Request-ID when it is sensible, else a new one, put in the request so the app sees it.</summary>
    internal static string RequestId(HttpContext context)
    {
        IHeaderDictionary headers = context.Request.Headers;
        if (headers.TryGetValue("X-Request-ID", out var given) && given.Count == 1 && IsSensible(given[0]))
        {
            return given[0]!;
        }

        string id = IdPrefix + Interlocked.Increment(ref s_nextId).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        headers["X-Request-ID"] = id;
        return id;
    }

    /// <summary>1 to 200 characters that are safe in a log line and a header: letters, digits and -_.:/+=@.</summary>
    internal static bool IsSensible(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 200)
        {
            return false;
        }

        foreach (char c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.' or ':' or '/' or '+' or '=' or '@'))
            {
                return false;
            }
        }

        return true;
    }
}
