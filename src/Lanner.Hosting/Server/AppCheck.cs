using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Lanner.Workers;

namespace Lanner.Hosting.Server;

/// <summary>
/// `lanner check`: the configuration is valid (it got this far), the files the server loads as it
/// starts load, and the app loads in the workers' Python.
/// </summary>
public static class AppCheck
{
    /// <summary>The line <c>lanner/worker/check.py</c> prints once the app is loaded: "{APP_MODULE} loads: {module}.{name}".</summary>
    internal static string LoadedPrefix(string appSpec) => $"{appSpec} loads: ";

    /// <summary>Checks the TLS files, then loads the app in a worker interpreter; returns the exit code (0: all good, 1: a file the server would refuse, 3: the app does not load).</summary>
    public static int Run(ServerOptions options, TextWriter output, TextWriter error)
    {
        if (CheckTlsFiles(options.Listen) is { } problem)
        {
            error.WriteLine($"lanner: error: {problem}");
            return ExitCodes.Error;
        }

        return CheckApp(options.Pool, output, error);
    }

    /// <summary>
    /// What the server would refuse to start with among the TLS settings, in its words; null when
    /// they are fine. The files are loaded as the server loads them (<see cref="TlsFiles"/>).
    /// </summary>
    internal static string? CheckTlsFiles(ListenOptions listen)
    {
        string? problem = TlsFiles.Load(listen, out X509Certificate2? certificate, out X509Certificate2Collection? authorities);
        certificate?.Dispose();
        foreach (X509Certificate2 authority in authorities ?? [])
        {
            authority.Dispose();
        }

        return problem;
    }

    /// <summary>
    /// Runs <c>lanner.worker.check</c> in the workers' interpreter. The app loaded only if it says
    /// so: a zero exit without its line is a program that is not that check (--python /bin/true).
    /// </summary>
    private static int CheckApp(PoolOptions pool, TextWriter output, TextWriter error)
    {
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
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("Process.Start returned nothing");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            error.WriteLine($"lanner: error: cannot start the interpreter {pool.PythonExecutable} to load the app {pool.AppSpec}: {ex.Message}");
            return ExitCodes.AppLoadError;
        }

        using (process)
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            bool reported = stdout.Split('\n').Any(line => line.StartsWith(LoadedPrefix(pool.AppSpec), StringComparison.Ordinal));
            if (process.ExitCode == 0 && reported)
            {
                output.Write(stdout);
                output.WriteLine("Configuration OK.");
                return ExitCodes.Ok;
            }

            output.Write(stdout);
            error.Write(stderr.Result);
            if (process.ExitCode == WorkerPool.OldPythonExitCode)
            {
                // Its own line above says which version it is and which the workers need.
                error.WriteLine($"lanner: error: the app {pool.AppSpec} was not loaded: {pool.PythonExecutable} is too old for the workers");
            }
            else if (process.ExitCode == ExitCodes.AppLoadError) // check.py: the app raised as it loaded
            {
                error.WriteLine($"lanner: error: the app {pool.AppSpec} does not load");
            }
            else
            {
                string exit = WorkerExit.Classify(process.ExitCode, false, false, false, false).Describe();
                error.WriteLine($"lanner: error: {pool.PythonExecutable} ran and exited with {exit}, but did not report loading the app {pool.AppSpec} "
                    + "(is --python a Python 3 interpreter?)");
            }

            return ExitCodes.AppLoadError;
        }
    }
}
