namespace Lanner.Workers;

/// <summary>The life of one worker process. Transitions happen only through <see cref="WorkerStates.Next"/>.</summary>
public enum WorkerState
{
    /// <summary>The process was started; it has not connected yet.</summary>
    Spawned,

    /// <summary>It connected and got its configuration; it is importing the app.</summary>
    Booting,

    /// <summary>The app is loaded; it takes requests.</summary>
    Ready,

    /// <summary>It takes no new requests; it finishes what it has, then exits (stop, recycle, failed boot).</summary>
    Draining,

    /// <summary>The process is gone.</summary>
    Exited,
}

public enum WorkerTrigger
{
    Connected,
    AppLoaded,
    BootFailed,
    Drain,
    ProcessExited,
}

public static class WorkerStates
{
    /// <summary>The one transition function. An impossible pair throws: it is a bug, not a state.</summary>
    public static WorkerState Next(WorkerState state, WorkerTrigger trigger) => (state, trigger) switch
    {
        (_, WorkerTrigger.ProcessExited) => WorkerState.Exited,
        (WorkerState.Exited, _) => WorkerState.Exited,
        (WorkerState.Spawned, WorkerTrigger.Connected) => WorkerState.Booting,
        (WorkerState.Booting, WorkerTrigger.AppLoaded) => WorkerState.Ready,
        (WorkerState.Booting, WorkerTrigger.BootFailed) => WorkerState.Draining,
        (WorkerState.Spawned or WorkerState.Booting or WorkerState.Ready or WorkerState.Draining, WorkerTrigger.Drain) => WorkerState.Draining,
        _ => throw new InvalidOperationException($"worker cannot go from {state} on {trigger}"),
    };
}
