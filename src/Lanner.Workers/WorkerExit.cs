namespace Lanner.Workers;

/// <summary>Why a worker process ended, as the pool classifies it.</summary>
public enum WorkerExitReason
{
    /// <summary>It exited 0 after being asked to stop.</summary>
    Stopped,

    /// <summary>It exited with a non-zero code it chose.</summary>
    Crashed,

    /// <summary>A signal Lanner did not send killed it.</summary>
    Signaled,

    /// <summary>Lanner killed it (it did not stop in time, or broke the protocol).</summary>
    Killed,

    /// <summary>It could not load the app.</summary>
    BootFailed,

    /// <summary>It sent something that is not the protocol.</summary>
    ProtocolError,
}

/// <summary>How a worker process ended: the raw status and its classification.</summary>
public sealed record WorkerExit(WorkerExitReason Reason, int? ExitCode, int? Signal)
{
    /// <summary>"exit code 1", "signal SIGSEGV", … for log lines.</summary>
    public string Describe()
    {
        if (Signal is int sig)
        {
            string text = $"signal {SignalNames.Name(sig)}";
            if (sig == SignalNames.SIGKILL && Reason == WorkerExitReason.Signaled)
            {
                text += " (not sent by Lanner: possibly killed by the OOM killer)";
            }

            return text;
        }

        return $"exit code {ExitCode}";
    }

    /// <summary>
    /// Classifies a wait status as .NET reports it: a process killed by signal N has exit code 128 + N.
    /// </summary>
    public static WorkerExit Classify(int exitCode, bool stopRequested, bool killedByLanner, bool bootFailed, bool protocolError)
    {
        int? signal = exitCode > 128 && exitCode < 128 + 65 ? exitCode - 128 : null;
        WorkerExitReason reason =
            protocolError ? WorkerExitReason.ProtocolError
            : bootFailed ? WorkerExitReason.BootFailed
            : killedByLanner && signal == SignalNames.SIGKILL ? WorkerExitReason.Killed
            : signal is not null && !(stopRequested && signal == SignalNames.SIGTERM) ? WorkerExitReason.Signaled
            : exitCode == 0 || stopRequested ? WorkerExitReason.Stopped
            : WorkerExitReason.Crashed;
        return new WorkerExit(reason, signal is null ? exitCode : null, signal);
    }
}

public static class SignalNames
{
    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGQUIT = 3;
    public const int SIGABRT = 6;
    public const int SIGKILL = 9;
    public const int SIGUSR1 = 10;
    public const int SIGSEGV = 11;
    public const int SIGUSR2 = 12;
    public const int SIGTERM = 15;
    public const int SIGURG = 23;

    private static readonly string[] Names =
    [
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
        "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
        "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    public static string Name(int signal) => signal > 0 && signal < Names.Length ? Names[signal] : $"signal {signal}";
}
