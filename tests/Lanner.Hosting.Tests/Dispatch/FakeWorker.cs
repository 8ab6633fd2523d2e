using Lanner.Protocol;
using Lanner.Workers;
using Microsoft.Extensions.Time.Testing;

namespace Lanner.Hosting.Tests.Dispatch;

/// <summary>A worker as dispatch sees it, driven by the test: it runs what it is sent in order.</summary>
internal sealed class FakeWorker(int id, FakeTimeProvider time, int concurrency = 1) : IWorkerHandle
{
    public List<Exchange> Held { get; } = [];

    public int ReclaimRequests { get; private set; }

    public int Id { get; } = id;

    public int Pid => 1000 + Id;

    public int Concurrency { get; } = concurrency;

    public int InFlight => Held.Count;

    public bool IsAccepting { get; set; } = true;

    public bool Retiring { get; set; }

    public long BusySince { get; set; }

    public long ServiceTicks { get; set; }

    public long OldestWaitingSince => Held.Count > Concurrency ? Held[Concurrency].ArrivedAt : 0;

    public bool TrySend(Exchange exchange)
    {
        if (!IsAccepting)
        {
            return false;
        }

        if (Held.Count == 0)
        {
            BusySince = time.GetTimestamp();
        }

        Held.Add(exchange);
        return true;
    }

    public void Abort(Exchange exchange) => exchange.Fail(ExchangeFailure.ShuttingDown);

    /// <summary>As the real worker: it takes nothing new until it has answered.</summary>
    public bool RequestReclaim()
    {
        if (!IsAccepting || Held.Count <= Concurrency)
        {
            return false;
        }

        ReclaimRequests++;
        IsAccepting = false;
        return true;
    }

    public void AckFile(Exchange exchange, bool opened)
    {
    }

    /// <summary>Finishes the oldest request and tells dispatch, as a real worker does.</summary>
    public Exchange FinishOne(Lanner.Hosting.Dispatch.Dispatcher dispatcher)
    {
        Exchange done = Held[0];
        Held.RemoveAt(0);
        BusySince = Held.Count > 0 ? time.GetTimestamp() : 0;
        done.Fail(ExchangeFailure.None);
        dispatcher.WorkerAvailable(this);
        return done;
    }

    /// <summary>Hands back everything not started (all but the running ones), as after a Reclaim frame.</summary>
    public List<Exchange> HandBack(Lanner.Hosting.Dispatch.Dispatcher dispatcher)
    {
        List<Exchange> back = Held.Skip(Concurrency).ToList();
        Held.RemoveRange(Concurrency, back.Count);
        IsAccepting = true;
        dispatcher.Requeue(back);
        dispatcher.WorkerAvailable(this);
        return back;
    }

    public static Exchange NewExchange(string target = "/") =>
        new(new ByteBuffer(16), requestBodyComplete: true, body: null, "GET", target);
}
