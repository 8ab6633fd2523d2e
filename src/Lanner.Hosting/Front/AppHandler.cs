using Lanner.Hosting.Dispatch;
using Lanner.Protocol;
using Lanner.Workers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Front;

/// <summary>
/// The request delegate for app requests: encodes the request (environ and the first body bytes),
/// hands it to dispatch, and writes what comes back. One per server.
/// </summary>
internal sealed class AppHandler(Dispatcher dispatcher, AppResponder responder, FrontOptions options, ILogger logger)
{
    /// <summary>What the access log and the metrics want to know of an app request.</summary>
    public readonly record struct Outcome(long BytesSent, int Pid, long QueueWaitTicks, bool ClientGoneBefore = false);

    private static readonly byte[] Page400 = FailureMap.Page(StatusCodes.Status400BadRequest);

    /// <param name="facts">The request's facts (<see cref="EnvironWriter.FactsOf"/>), gathered once for this and the access log.</param>
    public async Task<Outcome> HandleAsync(HttpContext context, RequestFacts facts, string? requestId)
    {
        if (facts.SchemeHeadersDisagree)
        {
            // As gunicorn: a trusted front end's scheme headers that disagree are a 400.
            return new Outcome(await FailureMap.WritePageAsync(context.Response, StatusCodes.Status400BadRequest, Page400).ConfigureAwait(false),
                Environment.ProcessId, 0);
        }

        var payload = new ByteBuffer(2048);
        if (!EnvironWriter.Write(payload, facts, context.Request.Headers, options.LimitRequestFieldSize))
        {
            // A header field over --limit-request-field_size: gunicorn's 431 equivalent.
            payload.Dispose();
            context.Response.StatusCode = StatusCodes.Status431RequestHeaderFieldsTooLarge;
            context.Response.Headers.Connection = "close";
            return new Outcome(0, Environment.ProcessId, 0);
        }

        bool complete = true;
        IRequestBodySource? body = null;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            try
            {
                complete = await RequestBodySource.ReadInlineAsync(context.Request.BodyReader, payload, context.Request.ContentLength, context.RequestAborted)
                    .ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // The client went away or sent a broken body before the request was complete:
                // nothing reached the app.
                payload.Dispose();
                if ((ex as BadHttpRequestException ?? ex.InnerException as BadHttpRequestException) is { } bad && !context.Response.HasStarted)
                {
                    // A malformed body (bad chunk framing, a body over the limit) is the client's
                    // error: its status, a debug line as for the other requests Kestrel refuses,
                    // and the connection closed, since its framing cannot be trusted any more.
                    FrontLog.BadRequestBody(logger, $"{facts.Method} {facts.RawTarget}{(requestId is null ? "" : $" [{requestId}]")}", bad.Message, bad.StatusCode);
                    context.Response.StatusCode = bad.StatusCode;
                    context.Response.Headers.Connection = "close";
                }

                return new Outcome(0, Environment.ProcessId, 0);
            }

            if (!complete)
            {
                body = new RequestBodySource(context.Request.BodyReader);
            }
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            // The client is gone already (a FIN right after the request, which Kestrel takes as
            // an abort): nothing could be sent back, so the app is not run for it.
            payload.Dispose();
            return new Outcome(0, Environment.ProcessId, 0, ClientGoneBefore: true);
        }

        using var exchange = new Exchange(payload, complete, body, facts.Method, facts.RawTarget) { RequestId = requestId };
        dispatcher.Dispatch(exchange);

        // Registered once dispatched, so that an abort from now on finds the request queued or
        // at its worker (a token cancelled in between runs the callback here, at once).
        using CancellationTokenRegistration registration = context.RequestAborted.UnsafeRegister(
            static state =>
            {
                var (d, e) = ((Dispatcher, Exchange))state!;
                d.Abort(e);
            },
            (dispatcher, exchange));
        AppResponder.Sent sent = await responder.WriteAsync(context, exchange, () => dispatcher.Abort(exchange)).ConfigureAwait(false);
        return new Outcome(sent.Bytes, exchange.Worker?.Pid ?? Environment.ProcessId, exchange.QueueWaitTicks, sent.ClientGoneBefore);
    }
}
