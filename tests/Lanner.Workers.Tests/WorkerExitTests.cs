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

    [Fact]
    public void BootstrapCode_QuotesThePath()
    {
        string code = WorkerPool.BootstrapCode("/opt/it's here");

        Assert.Contains("'/opt/it\\'s here'", code, StringComparison.Ordinal);
    }
}
