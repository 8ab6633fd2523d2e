using Lanner.Protocol;

namespace Lanner.Workers.Tests;

public class BootstrapTests
{
    [Theory]
    [InlineData("lanner.worker.main")]
    [InlineData("lanner.worker.check")]
    [InlineData("lanner.django.discovery")]
    public void BootstrapCode_RunsTheVersionGuardBeforeImportingTheModule(string module)
    {
        string code = WorkerPool.BootstrapCode("/opt/lanner", module);

        int guard = code.IndexOf("import lanner.worker.__main__ as g;g.require_python();", StringComparison.Ordinal);
        int import = code.IndexOf($"import {module} as m;", StringComparison.Ordinal);
        Assert.True(guard > 0, code);
        Assert.True(import > guard, code);
        Assert.StartsWith("import sys;p='/opt/lanner';sys.path.insert(0,p);", code, StringComparison.Ordinal);
    }

    [Fact]
    public void BootErrorOf_AnInterpreterThatExitedWithTheGuardsCode_SaysItIsTooOld()
    {
        var guessed = new WorkerBootError("the interpreter /usr/bin/python3.6 exited with exit code 6 before it connected (is --python a Python 3 interpreter?)", "");

        WorkerBootError error = WorkerPool.BootErrorOf(guessed, WorkerExit.Classify(WorkerPool.OldPythonExitCode, false, false, true, false), "/usr/bin/python3.6", "the worker failed to boot");

        Assert.Equal("the workers need Python 3.9 or newer; the interpreter /usr/bin/python3.6 is older (exit code 6)", error.Message);
        Assert.Equal("", error.Traceback);
    }

    [Fact]
    public void BootErrorOf_OtherFailures_KeepTheirErrorOrTheFallback()
    {
        var fromTheApp = new WorkerBootError("ImportError: no module named x", "Traceback ...");

        Assert.Same(fromTheApp, WorkerPool.BootErrorOf(fromTheApp, null, "python3", "the worker failed to boot")); // a BOOT_ERROR frame: still running
        Assert.Same(fromTheApp, WorkerPool.BootErrorOf(fromTheApp, WorkerExit.Classify(3, false, false, true, false), "python3", "x"));
        Assert.Same(fromTheApp, WorkerPool.BootErrorOf(fromTheApp, WorkerExit.Classify(128 + 6, false, false, true, false), "python3", "x")); // SIGABRT, not exit code 6
        Assert.Equal("the zygote failed to start", WorkerPool.BootErrorOf(null, null, "python3", "the zygote failed to start").Message);
    }
}
