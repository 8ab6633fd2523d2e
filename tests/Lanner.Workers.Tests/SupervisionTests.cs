using Microsoft.Extensions.Time.Testing;

namespace Lanner.Workers.Tests;

public class SupervisionTests
{
    [Fact]
    public void RecycleLimit_Disabled_IsNever()
    {
        Assert.Equal(int.MaxValue, Supervision.RecycleLimit(0, 50, new Random(1)));
    }

    [Fact]
    public void RecycleLimit_WithoutJitter_IsExact()
    {
        Assert.Equal(1000, Supervision.RecycleLimit(1000, 0, new Random(1)));
    }

    [Fact]
    public void RecycleLimit_Jitter_StaysWithinBoundsAndReachesBoth()
    {
        var random = new Random(42);
        var limits = Enumerable.Range(0, 2000).Select(_ => Supervision.RecycleLimit(100, 10, random)).ToList();

        Assert.All(limits, l => Assert.InRange(l, 100, 110));
        Assert.Contains(100, limits);
        Assert.Contains(110, limits);
    }

    [Fact]
    public void IsTimedOut_AtTheLimit_No_OneTickPast_Yes()
    {
        var time = new FakeTimeProvider();
        long started = time.GetTimestamp();
        TimeSpan timeout = TimeSpan.FromSeconds(30);

        time.Advance(timeout);
        Assert.False(Supervision.IsTimedOut(started, time.GetTimestamp(), timeout, time));

        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(Supervision.IsTimedOut(started, time.GetTimestamp(), timeout, time));
    }

    [Fact]
    public void IsTimedOut_ZeroTimeoutOrNotStarted_Never()
    {
        var time = new FakeTimeProvider();
        long started = time.GetTimestamp();
        time.Advance(TimeSpan.FromDays(1));

        Assert.False(Supervision.IsTimedOut(started, time.GetTimestamp(), TimeSpan.Zero, time));
        Assert.False(Supervision.IsTimedOut(0, time.GetTimestamp(), TimeSpan.FromSeconds(1), time));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 500)]
    [InlineData(2, 1000)]
    [InlineData(3, 2000)]
    [InlineData(5, 8000)]
    [InlineData(6, 10000)]
    [InlineData(50, 10000)]
    public void Backoff_DoublesUpToTenSeconds(int failures, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Supervision.Backoff(failures));
}

public class PoolPlannerTests
{
    private static WorkerView W(int id, WorkerState state, int generation = 1, bool retiring = false) => new(id, generation, state, retiring);

    [Fact]
    public void Empty_SpawnsTheTarget()
    {
        PoolPlan plan = PoolPlanner.Plan([], target: 3, generation: 1, mayStart: true);

        Assert.Equal(3, plan.Spawn);
        Assert.Empty(plan.Stop);
    }

    [Fact]
    public void InBackoff_SpawnsNothing()
    {
        Assert.Equal(0, PoolPlanner.Plan([], 3, 1, mayStart: false).Spawn);
    }

    [Fact]
    public void Recycled_KeepsServingUntilItsReplacementIsReady()
    {
        // Worker 1 reached its limit: a replacement is spawned, and 1 is not stopped yet.
        var booting = PoolPlanner.Plan([W(1, WorkerState.Ready, retiring: true), W(2, WorkerState.Ready)], 2, 1, true);
        Assert.Equal(1, booting.Spawn);
        Assert.Empty(booting.Stop);

        var stillBooting = PoolPlanner.Plan([W(1, WorkerState.Ready, retiring: true), W(2, WorkerState.Ready), W(3, WorkerState.Booting)], 2, 1, true);
        Assert.Equal(0, stillBooting.Spawn);
        Assert.Empty(stillBooting.Stop);

        var ready = PoolPlanner.Plan([W(1, WorkerState.Ready, retiring: true), W(2, WorkerState.Ready), W(3, WorkerState.Ready)], 2, 1, true);
        Assert.Equal([1], ready.Stop);
    }

    [Fact]
    public void Reload_OldGenerationStopsOneForEachNewOneReady()
    {
        WorkerView[] workers =
        [
            W(1, WorkerState.Ready, 1, true), W(2, WorkerState.Ready, 1, true), W(3, WorkerState.Ready, 1, true),
            W(4, WorkerState.Ready, 2), W(5, WorkerState.Booting, 2), W(6, WorkerState.Booting, 2),
        ];

        PoolPlan plan = PoolPlanner.Plan(workers, 3, 2, true);

        Assert.Equal(0, plan.Spawn);
        Assert.Equal([1], plan.Stop); // 1 new ready + 2 old still serving = 3
    }

    [Fact]
    public void ReloadThatNeverBecomesReady_StopsNoOldWorker()
    {
        WorkerView[] workers = [W(1, WorkerState.Ready, 1, true), W(2, WorkerState.Ready, 1, true), W(3, WorkerState.Booting, 2), W(4, WorkerState.Booting, 2)];

        Assert.Empty(PoolPlanner.Plan(workers, 2, 2, true).Stop);
    }

    [Fact]
    public void OneTooMany_RetiresAndStopsTheOldest()
    {
        PoolPlan plan = PoolPlanner.Plan([W(1, WorkerState.Ready), W(2, WorkerState.Ready), W(3, WorkerState.Ready)], 2, 1, true);

        Assert.Equal([1], plan.Retire);
        Assert.Equal([1], plan.Stop);
        Assert.Equal(0, plan.Spawn);
    }

    [Fact]
    public void RetiringWorkerStillBooting_IsStoppedAtOnce()
    {
        PoolPlan plan = PoolPlanner.Plan([W(1, WorkerState.Booting, 1, true), W(2, WorkerState.Ready, 2)], 1, 2, true);

        Assert.Equal([1], plan.Stop);
    }

    [Fact]
    public void DrainingAndExited_DoNotCount()
    {
        PoolPlan plan = PoolPlanner.Plan([W(1, WorkerState.Draining), W(2, WorkerState.Exited), W(3, WorkerState.Ready)], 2, 1, true);

        Assert.Equal(1, plan.Spawn);
        Assert.Empty(plan.Stop);
    }
}
