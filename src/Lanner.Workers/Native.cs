using System.Runtime.InteropServices;

namespace Lanner.Workers;

/// <summary>The few POSIX calls .NET does not expose: sending a chosen signal to a worker.</summary>
internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false if the process is gone.</summary>
    public static bool SendSignal(int pid, int signal) => pid > 0 && Kill(pid, signal) == 0;
}
