namespace Lanner.Workers.Tests;

public class WorkerStatesTests
{
    /// <summary>Every (state, trigger) pair: the transition it makes, or null when it is impossible.</summary>
    public static TheoryData<WorkerState, WorkerTrigger, WorkerState?> Table => new()
    {
        { WorkerState.Spawned, WorkerTrigger.Connected, WorkerState.Booting },
        { WorkerState.Spawned, WorkerTrigger.AppLoaded, null },
        { WorkerState.Spawned, WorkerTrigger.BootFailed, null },
        { WorkerState.Spawned, WorkerTrigger.Drain, WorkerState.Draining },
        { WorkerState.Spawned, WorkerTrigger.ProcessExited, WorkerState.Exited },
        { WorkerState.Booting, WorkerTrigger.Connected, null },
        { WorkerState.Booting, WorkerTrigger.AppLoaded, WorkerState.Ready },
        { WorkerState.Booting, WorkerTrigger.BootFailed, WorkerState.Draining },
        { WorkerState.Booting, WorkerTrigger.Drain, WorkerState.Draining },
        { WorkerState.Booting, WorkerTrigger.ProcessExited, WorkerState.Exited },
        { WorkerState.Ready, WorkerTrigger.Connected, null },
        { WorkerState.Ready, WorkerTrigger.AppLoaded, null },
        { WorkerState.Ready, WorkerTrigger.BootFailed, null },
        { WorkerState.Ready, WorkerTrigger.Drain, WorkerState.Draining },
        { WorkerState.Ready, WorkerTrigger.ProcessExited, WorkerState.Exited },
        { WorkerState.Draining, WorkerTrigger.Connected, null },
        { WorkerState.Draining, WorkerTrigger.AppLoaded, null },
        { WorkerState.Draining, WorkerTrigger.BootFailed, null },
        { WorkerState.Draining, WorkerTrigger.Drain, WorkerState.Draining },
        { WorkerState.Draining, WorkerTrigger.ProcessExited, WorkerState.Exited },
        { WorkerState.Exited, WorkerTrigger.Connected, WorkerState.Exited },
        { WorkerState.Exited, WorkerTrigger.AppLoaded, WorkerState.Exited },
        { WorkerState.Exited, WorkerTrigger.BootFailed, WorkerState.Exited },
        { WorkerState.Exited, WorkerTrigger.Drain, WorkerState.Exited },
        { WorkerState.Exited, WorkerTrigger.ProcessExited, WorkerState.Exited },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Next_EveryPair(WorkerState state, WorkerTrigger trigger, WorkerState? expected)
    {
        if (expected is null)
        {
            Assert.Throws<InvalidOperationException>(() => WorkerStates.Next(state, trigger));
        }
        else
        {
            Assert.Equal(expected, WorkerStates.Next(state, trigger));
        }
    }

    [Fact]
    public void Table_CoversEveryPair()
    {
        int pairs = Enum.GetValues<WorkerState>().Length * Enum.GetValues<WorkerTrigger>().Length;
        Assert.Equal(pairs, Table.Count);
    }
}
