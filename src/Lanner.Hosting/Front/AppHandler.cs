using Lanner.Hosting.Dispatch;
using Lanner.Protocol;
using Lanner.Workers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Lanner.Hosting.Front;

/// <summary>
/// The request delegate for app requests: encodes the request (environ and the first body bytes),
/// hands it to dispatch, and writes what comes back. One per server.
/// </summary>
internal sealed class AppHandler(Dispatcher dispatcher, AppResponder responder, string scriptName)
{
    public async Task HandleAsync(HttpContext context)
    {
        RequestFacts facts = EnvironWriter.FactsOf(context, scriptName);
        var payload = new ByteBuffer(2048);
        EnvironWriter.Write(payload, facts, context.Request.Headers);

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
                // nothing reached the app. Kestrel answers 400 for a malformed body itself.
                payload.Dispose();
                if (ex.InnerException is BadHttpRequestException bad)
                {
                    throw bad;
                }

                return;
            }

            if (!complete)
            {
                body = new RequestBodySource(context.Request.BodyReader);
            }
        }

        using var exchange = new Exchange(payload, complete, body, facts.Method, facts.RawTarget);
        using CancellationTokenRegistration registration = context.RequestAborted.UnsafeRegister(
            static state =>
            {
                var (d, e) = ((Dispatcher, Exchange))state!;
                d.Abort(e);
            },
            (dispatcher, exchange));
        dispatcher.Dispatch(exchange);
        await responder.WriteAsync(context, exchange, () => dispatcher.Abort(exchange)).ConfigureAwait(false);
    }
}
