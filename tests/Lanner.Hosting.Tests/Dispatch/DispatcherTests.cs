using Lanner.Hosting.Dispatch;
using Lanner.Workers;
using Microsoft.Extensions.Time.Testing;

namespace Lanner.Hosting.Tests.Dispatch;

public class DispatcherTests
{
    private readonly FakeTimeProvider _time = new();

    private static readonly DispatchOptions Options = new()
    {
        MaxQueue = 3,
        QueueTimeout = TimeSpan.FromSeconds(10),
        PipelineDepth = 2,
        PipelineBelow = TimeSpan.FromMilliseconds(5),
        ReclaimAfter = TimeSpan.FromMilliseconds(2),
    };

    private (Dispatcher Dispatcher, FakeWorker A, FakeWorker B) TwoWorkers(DispatchOptions? options = null)
    {
        var dispatcher = new Dispatcher(options ?? Options, _time);
        var a = new FakeWorker(1, _time);
        var b = new FakeWorker(2, _time);
        dispatcher.WorkerAvailable(a);
        dispatcher.WorkerAvailable(b);
        return (dispatcher, a, b);
    }

    private static ExchangeFailure FailureOf(Exchange ex)
    {
        Assert.True(ex.TryRead(out ResponseEvent ev));
        return ev.Failure;
    }

    [Fact]
    public void Dispatch_OneWorkerBusy_GoesToTheIdleOne()
    {
        var (dispatcher, a, b) = TwoWorkers();
        a.TrySend(FakeWorker.NewExchange());

        Exchange ex = FakeWorker.NewExchange();
        dispatcher.Dispatch(ex);

        Assert.Same(ex, Assert.Single(b.Held));
    }

    [Fact]
    public void Dispatch_AllBusyAndFast_PipelinesUpToTheDepthThenQueues()
    {
        var (dispatcher, a, b) = TwoWorkers(Options with { MaxQueue = 100 });
        var sent = Enumerable.Range(0, 8).Select(i => FakeWorker.NewExchange("/" + i)).ToList();

        foreach (Exchange ex in sent)
        {
            dispatcher.Dispatch(ex);
        }

        // Each worker: one running + PipelineDepth (2) queued behind it; the other two wait in the master.
        Assert.Equal(3, a.InFlight);
        Assert.Equal(3, b.InFlight);
        Assert.Equal(2, dispatcher.QueueLength);
    }

    [Fact]
    public void Dispatch_RetiringWorker_ServesOnlyWhenTheOthersAreFull()
    {
        var (dispatcher, a, b) = TwoWorkers(Options with { PipelineDepth = 0 });
        a.Retiring = true;

        dispatcher.Dispatch(FakeWorker.NewExchange());
        Assert.Equal((0, 1), (a.InFlight, b.InFlight));

        dispatcher.Dispatch(FakeWorker.NewExchange()); // b is full: the retiring one takes it
        Assert.Equal((1, 1), (a.InFlight, b.InFlight));
    }

    [Fact]
    public void Dispatch_SlowApp_DoesNotPipeline()
    {
        var (dispatcher, a, b) = TwoWorkers();
        a.ServiceTicks = b.ServiceTicks = TimeSpan.FromMilliseconds(50).Ticks; // FakeTimeProvider counts in TimeSpan ticks

        for (int i = 0; i < 4; i++)
        {
            dispatcher.Dispatch(FakeWorker.NewExchange());
        }

        Assert.Equal(1, a.InFlight);
        Assert.Equal(1, b.InFlight);
        Assert.Equal(2, dispatcher.QueueLength);
    }

    [Fact]
    public void Dispatch_QueueFull_FailsAtOnceWithQueueFull()
    {
        var dispatcher = new Dispatcher(Options with { PipelineDepth = 0 }, _time);
        var a = new FakeWorker(1, _time);
        dispatcher.WorkerAvailable(a);
        dispatcher.Dispatch(FakeWorker.NewExchange()); // running
        for (int i = 0; i < Options.MaxQueue; i++)
        {
            dispatcher.Dispatch(FakeWorker.NewExchange());
        }

        Exchange rejected = FakeWorker.NewExchange();
        dispatcher.Dispatch(rejected);

        Assert.Equal(ExchangeFailure.QueueFull, FailureOf(rejected));
        Assert.Equal(Options.MaxQueue, dispatcher.QueueLength);
    }

    [Fact]
    public void Dispatch_NoWorkerYet_WaitsAndGoesToTheFirstReadyOne()
    {
        var dispatcher = new Dispatcher(Options, _time);
        Exchange ex = FakeWorker.NewExchange();
        dispatcher.Dispatch(ex);
        Assert.Equal(1, dispatcher.QueueLength);

        var a = new FakeWorker(1, _time);
        dispatcher.WorkerAvailable(a);

        Assert.Same(ex, Assert.Single(a.Held));
        Assert.Equal(0, dispatcher.QueueLength);
    }

    [Fact]
    public void RequestsWaiting_IsCalledOnlyWhenNoWorkerAcceptsWhatWasQueued()
    {
        var (dispatcher, a, b) = TwoWorkers(Options with { PipelineDepth = 0 });
        int calls = 0;
        dispatcher.RequestsWaiting = () => calls++;
        dispatcher.Dispatch(FakeWorker.NewExchange());
        dispatcher.Dispatch(FakeWorker.NewExchange());
        dispatcher.Dispatch(FakeWorker.NewExchange()); // both busy, both accepting: it waits for them
        Assert.Equal((1, 0), (dispatcher.QueueLength, calls));
        Assert.True(dispatcher.HasWaitingRequests);

        a.IsAccepting = false;
        b.IsAccepting = false;
        dispatcher.WorkerUnavailable(a);
        dispatcher.WorkerUnavailable(b);
        dispatcher.Dispatch(FakeWorker.NewExchange()); // nobody left to take it
        Assert.Equal((2, 1), (dispatcher.QueueLength, calls));

        Exchange back = FakeWorker.NewExchange();
        back.ArrivedAt = _time.GetTimestamp();
        dispatcher.Requeue([back]); // handed back by a worker that exited
        Assert.Equal((3, 2), (dispatcher.QueueLength, calls));
    }

    [Fact]
    public void QueueTimeout_AtTheLimit_StillWaits_OneTickPast_Fails()
    {
        var dispatcher = new Dispatcher(Options, _time);
        Exchange ex = FakeWorker.NewExchange();
        dispatcher.Dispatch(ex);

        _time.Advance(Options.QueueTimeout);
        Assert.False(ex.IsFinished);
        Assert.Equal(1, dispatcher.QueueLength);

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(ExchangeFailure.QueueTimeout, FailureOf(ex));
        Assert.Equal(0, dispatcher.QueueLength);
    }

    [Fact]
    public void Dispatch_PipelinedRequestsCountAgainstMaxQueue()
    {
        var dispatcher = new Dispatcher(Options with { PipelineDepth = 8 }, _time);
        var a = new FakeWorker(1, _time);
        dispatcher.WorkerAvailable(a);
        var sent = Enumerable.Range(0, 6).Select(_ => FakeWorker.NewExchange()).ToList();
        sent.ForEach(dispatcher.Dispatch);

        // 1 running + 3 waiting (MaxQueue) on the worker; the rest refused.
        Assert.Equal(4, a.InFlight);
        Assert.Equal(ExchangeFailure.QueueFull, FailureOf(sent[4]));
        Assert.Equal(ExchangeFailure.QueueFull, FailureOf(sent[5]));
    }

    [Fact]
    public void QueueTimeout_AppliesToRequestsPipelinedOnABusyWorker()
    {
        var dispatcher = new Dispatcher(Options, _time);
        var a = new FakeWorker(1, _time);
        dispatcher.WorkerAvailable(a);
        dispatcher.Dispatch(FakeWorker.NewExchange("/running"));
        Exchange queued = FakeWorker.NewExchange("/queued");
        dispatcher.Dispatch(queued);
        Assert.Equal(2, a.InFlight);

        _time.Advance(Options.QueueTimeout);
        Assert.Equal(0, a.ReclaimRequests);

        _time.Advance(TimeSpan.FromTicks(2));
        Assert.Equal(1, a.ReclaimRequests);
        a.HandBack(dispatcher); // it comes back past its deadline: 503 at once, not sent again
        Assert.Equal(ExchangeFailure.QueueTimeout, FailureOf(queued));
        Assert.Equal(1, a.InFlight);
    }

    [Fact]
    public void WorkerAvailable_DrainsTheQueueInArrivalOrder()
    {
        var dispatcher = new Dispatcher(Options with { PipelineDepth = 0 }, _time);
        var a = new FakeWorker(1, _time);
        dispatcher.WorkerAvailable(a);
        var sent = Enumerable.Range(0, 3).Select(i => FakeWorker.NewExchange("/" + i)).ToList();
        sent.ForEach(dispatcher.Dispatch);

        a.FinishOne(dispatcher);
        Assert.Same(sent[1], Assert.Single(a.Held));
        a.FinishOne(dispatcher);
        Assert.Same(sent[2], Assert.Single(a.Held));
    }

    [Fact]
    public void HeadOfLine_WorkerFreesUpWhileAnotherIsStuck_ReclaimsWhatWaitsBehindTheStuckOne()
    {
        var (dispatcher, a, b) = TwoWorkers();
        Exchange slow = FakeWorker.NewExchange("/slow");
        Exchange fast = FakeWorker.NewExchange("/fast");
        Exchange queuedBehindSlow = FakeWorker.NewExchange("/queued");
        dispatcher.Dispatch(slow);            // -> a
        dispatcher.Dispatch(fast);            // -> b
        dispatcher.Dispatch(queuedBehindSlow); // both busy and fast so far: pipelined
        Assert.Contains(queuedBehindSlow, a.Held.Concat(b.Held));
        FakeWorker stuck = a.Held.Contains(queuedBehindSlow) ? a : b;
        FakeWorker other = stuck == a ? b : a;
        if (stuck == b)
        {
            // Make the stuck one the one running /slow in this arrangement too.
            (stuck.Held[0], other.Held[0]) = (other.Held[0], stuck.Held[0]);
        }

        _time.Advance(Options.ReclaimAfter);
        other.FinishOne(dispatcher); // the other worker is free now; the stuck one's request is 2 ms old

        Assert.Equal(1, stuck.ReclaimRequests);
        stuck.HandBack(dispatcher);
        Assert.Contains(queuedBehindSlow, other.Held);
        Assert.DoesNotContain(queuedBehindSlow, stuck.Held);
    }

    [Fact]
    public void HeadOfLine_WorkerFreesUpBeforeTheOtherCountsAsSlow_TimerReclaimsAtTheThreshold()
    {
        var (dispatcher, a, b) = TwoWorkers();
        dispatcher.Dispatch(FakeWorker.NewExchange("/slow")); // -> a (rotation starts at b? either way one each)
        dispatcher.Dispatch(FakeWorker.NewExchange("/fast"));
        Exchange queued = FakeWorker.NewExchange("/queued");
        dispatcher.Dispatch(queued);
        FakeWorker stuck = a.Held.Contains(queued) ? a : b;
        FakeWorker other = stuck == a ? b : a;

        other.FinishOne(dispatcher); // free at once: the stuck worker's request is 0 ms old, not slow yet
        Assert.Equal(0, stuck.ReclaimRequests);

        _time.Advance(Options.ReclaimAfter - TimeSpan.FromTicks(1));
        Assert.Equal(0, stuck.ReclaimRequests);

        _time.Advance(TimeSpan.FromTicks(2));
        Assert.Equal(1, stuck.ReclaimRequests);
        stuck.HandBack(dispatcher);
        Assert.Contains(queued, other.Held);
    }

    [Fact]
    public void HeadOfLine_NoWorkerFree_NothingIsReclaimed()
    {
        var (dispatcher, a, b) = TwoWorkers();
        for (int i = 0; i < 4; i++)
        {
            dispatcher.Dispatch(FakeWorker.NewExchange());
        }

        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(0, a.ReclaimRequests);
        Assert.Equal(0, b.ReclaimRequests);
    }

    [Fact]
    public void Requeue_PutsTheExchangesFirstInTheirOrder()
    {
        var dispatcher = new Dispatcher(Options, _time);
        Exchange waiting = FakeWorker.NewExchange("/waiting");
        dispatcher.Dispatch(waiting);
        Exchange first = FakeWorker.NewExchange("/1");
        Exchange second = FakeWorker.NewExchange("/2");
        first.ArrivedAt = second.ArrivedAt = _time.GetTimestamp(); // as when they were first dispatched

        dispatcher.Requeue([first, second]);
        var a = new FakeWorker(1, _time);
        dispatcher.WorkerAvailable(a);

        Assert.Equal([first, second, waiting], a.Held);
    }

    [Fact]
    public void Abort_WaitingExchange_LeavesTheQueue()
    {
        var dispatcher = new Dispatcher(Options, _time);
        Exchange ex = FakeWorker.NewExchange();
        dispatcher.Dispatch(ex);

        dispatcher.Abort(ex);

        Assert.Equal(0, dispatcher.QueueLength);
        Assert.True(ex.ClientAborted);
        Assert.True(ex.IsFinished);
    }

    [Fact]
    public void Dispatch_WorkerRefuses_TriesTheNextOne()
    {
        var (dispatcher, a, b) = TwoWorkers();
        a.IsAccepting = false; // started draining without telling dispatch yet

        for (int i = 0; i < 2; i++)
        {
            dispatcher.Dispatch(FakeWorker.NewExchange());
        }

        Assert.Empty(a.Held);
        Assert.Equal(2, b.InFlight);
    }

    [Fact]
    public void Stop_FailsWaitingRequestsAndRefusesNewOnes()
    {
        var dispatcher = new Dispatcher(Options, _time);
        Exchange waiting = FakeWorker.NewExchange();
        dispatcher.Dispatch(waiting);

        dispatcher.Stop();
        Exchange late = FakeWorker.NewExchange();
        dispatcher.Dispatch(late);

        Assert.Equal(ExchangeFailure.ShuttingDown, FailureOf(waiting));
        Assert.Equal(ExchangeFailure.ShuttingDown, FailureOf(late));
    }
}
