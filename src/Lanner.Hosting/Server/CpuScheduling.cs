using System.Runtime.InteropServices;

namespace Lanner.Hosting.Server;

/// <summary>
/// --cpu-scheduling batch for the master: its threads to SCHED_BATCH, so that a thread woken by a
/// request or a response does not pre-empt a worker in the middle of the app, and handles what has
/// piled up in one go when it runs (docs/decisions/0004-cpu-scheduling.md). The workers set it
/// themselves, and make themselves nicer than the master.
/// </summary>
/// <remarks>
/// A new thread does not reliably inherit the policy: .NET creates threads with the policy the
/// C library has cached for the creating thread, which may predate the switch. So the threads are
/// swept once at start and then once a second for new ones.
/// </remarks>
internal sealed partial class CpuScheduling : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);
    private const int SchedOther = 0;
    private const int SchedBatch = 3;
    private const int NoSuchThread = 3; // ESRCH: the thread ended between the listing and the call

    private readonly HashSet<int> _switched = [];
    private readonly Timer _timer;

    private CpuScheduling()
    {
        _timer = new Timer(_ => Sweep(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SetScheduler(int tid, int policy, in SchedParam param);

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    private static partial int GetScheduler(int tid);

    /// <summary>Applies <paramref name="policy"/> ("batch" or "normal"; normal leaves the threads as
    /// they were started, and batch leaves a policy other than the normal one alone). Null with
    /// <paramref name="error"/> set when batch cannot be had.</summary>
    public static CpuScheduling? Start(string policy, out string? error)
    {
        error = null;
        if (policy != "batch" || !OperatingSystem.IsLinux())
        {
            return null;
        }

        var scheduling = new CpuScheduling();
        error = scheduling.Sweep();
        if (error is not null)
        {
            scheduling.Dispose();
            return null;
        }

        scheduling._timer.Change(SweepInterval, SweepInterval);
        return scheduling;
    }

    public void Dispose() => _timer.Dispose();

    private string? Sweep()
    {
        lock (_switched)
        {
            var present = new HashSet<int>();
            foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (!int.TryParse(Path.GetFileName(task), out int tid))
                {
                    continue;
                }

                present.Add(tid);
                if (_switched.Contains(tid))
                {
                    continue;
                }

                // Only the normal policy is switched: one chosen by whoever started Lanner (chrt,
                // systemd's CPUSchedulingPolicy=) stays. A thread that has ended is skipped.
                int current = GetScheduler(tid);
                if (current != SchedOther || SetScheduler(tid, SchedBatch, default) == 0)
                {
                    _switched.Add(tid);
                }
                else if (Marshal.GetLastPInvokeError() is int errno and not NoSuchThread)
                {
                    return $"sched_setscheduler(SCHED_BATCH) failed: {Marshal.GetPInvokeErrorMessage(errno)}";
                }
            }

            _switched.IntersectWith(present); // a number freed by an ended thread may come back
            return null;
        }
    }
}
