namespace Lanner.Workers;

/// <summary>The supervision rules, as pure functions of time, counts and a random source (tested with fakes).</summary>
public static class Supervision
{
    /// <summary>How long a worker that was asked to stop after a timeout gets before SIGKILL.</summary>
    public static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(1);

    /// <summary>How often worker memory is sampled when --max-worker-memory is set.</summary>
    public static readonly TimeSpan MemoryInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Requests a worker serves before it is replaced: gunicorn's rule, max_requests plus a
    /// random 0..jitter (inclusive) drawn once per worker. <see cref="int.MaxValue"/> when disabled.
    /// </summary>
    public static int RecycleLimit(int maxRequests, int jitter, Random random) =>
        maxRequests <= 0 ? int.MaxValue : maxRequests + (jitter > 0 ? random.Next(0, jitter + 1) : 0);

    /// <summary>True when a request started at <paramref name="startedAt"/> has run past <paramref name="timeout"/> (strictly).</summary>
    public static bool IsTimedOut(long startedAt, long now, TimeSpan timeout, TimeProvider time) =>
        timeout > TimeSpan.Zero && startedAt != 0 && time.GetElapsedTime(startedAt, now) > timeout;

    /// <summary>
    /// How long a worker stopped by a TERM or INT Lanner did not send waits to be replaced: the
    /// master's own signal, sent to the whole group at the same moment, arrives well within it.
    /// </summary>
    public static readonly TimeSpan OutsideStopGrace = TimeSpan.FromMilliseconds(250);

    /// <summary>Delay before the next spawn after <paramref name="failures"/> workers in a row died before loading the app: 0.5 s doubling, at most 10 s.</summary>
    public static TimeSpan Backoff(int failures) =>
        failures <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(10_000, 500 * Math.Pow(2, Math.Min(failures - 1, 10))));
}

/// <summary>What the planner needs to know about one worker.</summary>
public readonly record struct WorkerView(int Id, int Generation, WorkerState State, bool Retiring);

/// <summary>What the pool should do now: spawn, retire (mark for replacement) and stop (send STOP) which workers.</summary>
public sealed record PoolPlan(int Spawn, IReadOnlyList<int> Retire, IReadOnlyList<int> Stop);

/// <summary>
/// Decides how to keep <c>target</c> workers of the current generation serving, without ever
/// letting the number of workers that accept requests dip below the target while replacements
/// boot: a retiring worker (recycled, from an older generation, or one too many) keeps serving
/// until enough ready workers can take its place.
/// </summary>
public static class PoolPlanner
{
    public static PoolPlan Plan(IReadOnlyList<WorkerView> workers, int target, int generation, bool mayStart)
    {
        // Draining workers (stopping, timed out) no longer count: their replacements start now.
        var live = workers.Where(w => w.Generation == generation && !w.Retiring && w.State is not (WorkerState.Exited or WorkerState.Draining))
            .OrderBy(w => w.Id).ToList();

        // One too many (TTOU): retire the oldest.
        var retire = new List<int>();
        while (live.Count > target)
        {
            retire.Add(live[0].Id);
            live.RemoveAt(0);
        }

        int spawn = mayStart ? Math.Max(0, target - live.Count) : 0;

        int readyLive = live.Count(w => w.State == WorkerState.Ready);
        var retiringReady = workers
            .Where(w => w.State == WorkerState.Ready && (w.Retiring || retire.Contains(w.Id)))
            .OrderBy(w => w.Id)
            .ToList();
        int stopCount = readyLive >= target ? retiringReady.Count : Math.Max(0, readyLive + retiringReady.Count - target);
        var stop = retiringReady.Take(stopCount).Select(w => w.Id).ToList();

        // Workers retiring that never became ready (still booting) are not worth keeping.
        stop.AddRange(workers.Where(w => (w.Retiring || retire.Contains(w.Id)) && w.State is WorkerState.Spawned or WorkerState.Booting).Select(w => w.Id));
        return new PoolPlan(spawn, retire, stop);
    }
}
