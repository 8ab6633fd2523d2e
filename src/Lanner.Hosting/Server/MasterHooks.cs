using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Lanner.Workers;
using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Server;

/// <summary>
/// The master-side server hooks of a gunicorn.conf.py (on_starting, when_ready, on_reload,
/// pre_fork, child_exit, nworkers_changed, on_exit). The master is not Python, so they run in a
/// helper interpreter started for them, which reads one JSON command per line and answers each.
/// Calls are made one at a time in the order they were asked for; the pool's notifications
/// (pre_fork, child_exit) are queued and never make the pool wait.
/// Created by the server only when the config file defines one of these hooks; disposed at exit.
/// </summary>
internal sealed class MasterHooks : IAsyncDisposable
{
    private readonly Process _helper;
    private readonly ILogger _log;
    private readonly Channel<(JsonObject Command, TaskCompletionSource<string?> Done)> _calls =
        Channel.CreateUnbounded<(JsonObject, TaskCompletionSource<string?>)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly Task _pump;

    private MasterHooks(Process helper, ILogger log)
    {
        _helper = helper;
        _log = log;
        _pump = PumpAsync();
    }

    /// <summary>
    /// Starts the helper and waits until it has loaded the config file. Returns the helper, or the
    /// error (with the traceback) when the file cannot be loaded.
    /// </summary>
    public static async Task<(MasterHooks? Hooks, string? Error)> StartAsync(HookOptions hooks, PoolOptions pool, ILogger log)
    {
        var psi = new ProcessStartInfo(pool.PythonExecutable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            WorkingDirectory = pool.Chdir ?? Directory.GetCurrentDirectory(),
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(WorkerPool.BootstrapCode(pool.WorkerPackagePath, "lanner.worker.hooks"));
        psi.ArgumentList.Add(Path.GetFullPath(hooks.ConfigFile));
        psi.Environment["LANNER_HOOK_SETTINGS"] = hooks.SettingsJson;
        psi.Environment["PYTHONUNBUFFERED"] = "1";
        if (pool.PythonPath.Count > 0)
        {
            string existing = Environment.GetEnvironmentVariable("PYTHONPATH") ?? "";
            psi.Environment["PYTHONPATH"] = string.Join(':', pool.PythonPath.Append(existing).Where(p => p.Length > 0));
        }

        foreach ((string name, string value) in pool.Environment)
        {
            psi.Environment[name] = value;
        }

        Process helper;
        try
        {
            helper = Process.Start(psi) ?? throw new InvalidOperationException("the hook helper did not start");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (null, $"cannot start {pool.PythonExecutable} for the server hooks: {ex.Message}");
        }

        string? first = await helper.StandardOutput.ReadLineAsync().ConfigureAwait(false);
        JsonObject? hello = TryParse(first);
        if (hello?["ready"] is null)
        {
            string error = hello?["error"]?.GetValue<string>() ?? "the hook helper exited before loading the config file";
            string traceback = hello?["traceback"]?.GetValue<string>() ?? "";
            helper.Kill();
            await helper.WaitForExitAsync().ConfigureAwait(false);
            helper.Dispose();
            return (null, traceback.Length > 0 ? error + Environment.NewLine + traceback.TrimEnd() : error);
        }

        return (new MasterHooks(helper, log), null);
    }

    /// <summary>Runs the hook and waits for it; returns its error (with the traceback), or null when it succeeded.</summary>
    public Task<string?> CallAsync(string hook, int workers, Action<JsonObject>? fill = null)
    {
        var command = new JsonObject { ["hook"] = hook, ["workers"] = workers };
        fill?.Invoke(command);
        var done = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_calls.Writer.TryWrite((command, done)))
        {
            done.TrySetResult($"the {hook} hook was not run: the server is exiting");
        }

        return done.Task;
    }

    /// <summary>Runs the hook without waiting; a failure is logged.</summary>
    public void Post(string hook, int workers, Action<JsonObject>? fill = null) => _ = CallAsync(hook, workers, fill);

    /// <summary>pre_fork and child_exit: the worker as the hook sees it.</summary>
    public static Action<JsonObject> WorkerFields(Worker worker) => command => command["worker"] = new JsonObject
    {
        ["id"] = worker.Id,
        ["pid"] = worker.Pid == 0 ? null : worker.Pid,
        ["exitcode"] = worker.Exit?.ExitCode,
        ["reason"] = worker.Exit?.Describe(),
    };

    private async Task PumpAsync()
    {
        await foreach ((JsonObject command, TaskCompletionSource<string?> done) in _calls.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            string hook = command["hook"]!.GetValue<string>();
            string? error;
            try
            {
                await _helper.StandardInput.WriteLineAsync(command.ToJsonString()).ConfigureAwait(false);
                await _helper.StandardInput.FlushAsync().ConfigureAwait(false);
                JsonObject? answer = TryParse(await _helper.StandardOutput.ReadLineAsync().ConfigureAwait(false));
                while (answer?["log"] is { } level)
                {
                    // server.log / worker.log in a hook: the line goes to the error log like the master's own.
                    ServerLog.HookMessage(_log, LevelOf(level.GetValue<string>()), answer["text"]?.GetValue<string>() ?? "");
                    answer = TryParse(await _helper.StandardOutput.ReadLineAsync().ConfigureAwait(false));
                }

                error = answer is null ? $"the {hook} hook was not run: the hook helper exited"
                    : answer["error"] is { } e ? e.GetValue<string>() + Environment.NewLine + (answer["traceback"]?.GetValue<string>() ?? "").TrimEnd()
                    : null;
            }
            catch (IOException ex)
            {
                error = $"the {hook} hook was not run: {ex.Message}";
            }

            if (error is not null)
            {
                ServerLog.HookFailed(_log, error);
            }

            done.TrySetResult(error);
        }
    }

    private static LogLevel LevelOf(string level) => level switch
    {
        "DEBUG" => LogLevel.Debug,
        "WARNING" => LogLevel.Warning,
        "ERROR" => LogLevel.Error,
        "CRITICAL" => LogLevel.Critical,
        _ => LogLevel.Information,
    };

    private static JsonObject? TryParse(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _calls.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
        try
        {
            _helper.StandardInput.Close(); // end of input: the helper exits
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _helper.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            _helper.Kill();
        }

        _helper.Dispose();
    }
}
