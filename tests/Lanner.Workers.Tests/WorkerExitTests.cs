namespace Lanner.Workers.Tests;

public class WorkerExitTests
{
    [Theory]
    [InlineData(0, false, false, false, false, WorkerExitReason.Stopped, "exit code 0")]
    [InlineData(0, true, false, false, false, WorkerExitReason.Stopped, "exit code 0")]
    [InlineData(7, false, false, false, false, WorkerExitReason.Crashed, "exit code 7")]
    [InlineData(128 + 11, false, false, false, false, WorkerExitReason.Signaled, "signal SIGSEGV")]
    [InlineData(128 + 9, false, false, false, false, WorkerExitReason.Signaled, "signal SIGKILL (not sent by Lanner: possibly killed by the OOM killer)")]
    [InlineData(128 + 9, true, true, false, false, WorkerExitReason.Killed, "signal SIGKILL")]
    [InlineData(128 + 15, true, false, false, false, WorkerExitReason.Stopped, "signal SIGTERM")]
    [InlineData(128 + 15, false, false, false, false, WorkerExitReason.Signaled, "signal SIGTERM")]
    [InlineData(3, false, false, true, false, WorkerExitReason.BootFailed, "exit code 3")]
    [InlineData(128 + 9, false, true, false, true, WorkerExitReason.ProtocolError, "signal SIGKILL")]
    public void Classify(int code, bool stopRequested, bool killedByLanner, bool bootFailed, bool protocolError, WorkerExitReason reason, string described)
    {
        WorkerExit exit = WorkerExit.Classify(code, stopRequested, killedByLanner, bootFailed, protocolError);

        Assert.Equal(reason, exit.Reason);
        Assert.Equal(described, exit.Describe());
    }

    [Theory]
    [InlineData(128 + 15, false, true)] // a TERM Lanner did not send: the group was signalled
    [InlineData(128 + 2, false, true)] // Ctrl-C in the terminal
    [InlineData(0, false, true)] // it caught the TERM and exited cleanly, unasked
    [InlineData(128 + 15, true, false)] // Lanner stopped it
    [InlineData(0, true, false)]
    [InlineData(1, false, false)] // a crash is replaced at once
    [InlineData(128 + 9, false, false)] // SIGKILL (the OOM killer)
    [InlineData(128 + 11, false, false)]
    public void StoppedFromOutside_IsATermOrIntOrCleanExitLannerDidNotAskFor(int code, bool stopRequested, bool expected)
    {
        WorkerExit exit = WorkerExit.Classify(code, stopRequested, false, false, false);

        Assert.Equal(expected, WorkerPool.StoppedFromOutside(exit, stopRequested));
    }

    [Fact]
    public void BootstrapCode_QuotesThePath()
    {
        string code = WorkerPool.BootstrapCode("/opt/it's here");

        Assert.Contains("'/opt/it\\'s here'", code, StringComparison.Ordinal);
    }
}
