using System.Diagnostics;

namespace Lanner.Workers;

/// <summary>
/// A running worker process, however it was started: directly (then <see cref="Process"/> is set)
/// or forked by a zygote (then its exit code comes from the zygote's ChildExit report).
/// </summary>
/// <param name="Exit">Completes with the exit code as .NET reports it: 128 + signal when killed.</param>
internal sealed record WorkerProcess(int Pid, Task<int> Exit, Process? Process);

/// <summary>A worker process could not be started.</summary>
internal sealed class SpawnException(string message) : Exception(message);
