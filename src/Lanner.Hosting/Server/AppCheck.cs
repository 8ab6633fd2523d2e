using System.Diagnostics;
using System.Text.Json;
using Lanner.Workers;

namespace Lanner.Hosting.Server;

/// <summary>`lanner check`: the configuration is valid (it got this far) and the app loads in the workers' Python.</summary>
public static class AppCheck
{
    /// <summary>Loads the app in a worker interpreter; returns the exit code (0: it loads, 3: it does not).</summary>
    public static int Run(ServerOptions options, TextWriter output, TextWriter error)
    {
        PoolOptions pool = options.Pool;
        string config = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["app"] = pool.AppSpec,
            ["chdir"] = pool.Chdir,
            ["pythonpath"] = pool.PythonPath,
            ["env"] = pool.Environment,
        });
        var psi = new ProcessStartInfo(pool.PythonExecutable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(WorkerPool.BootstrapCode(pool.WorkerPackagePath, "lanner.worker.check"));
        psi.ArgumentList.Add(config);
        using Process process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {pool.PythonExecutable}");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode == 0)
        {
            output.Write(stdout);
            output.WriteLine("Configuration OK.");
            return ExitCodes.Ok;
        }

        error.Write(stderr.Result);
        error.WriteLine($"lanner: error: the app {pool.AppSpec} does not load");
        return ExitCodes.AppLoadError;
    }
}
