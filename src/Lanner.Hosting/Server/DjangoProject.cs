using System.Diagnostics;
using System.Text.Json;
using Lanner.Workers;

namespace Lanner.Hosting.Server;

/// <summary>What a Django project tells Lanner when it is started with no APP_MODULE next to a manage.py.</summary>
public sealed record DjangoProject(string AppModule, IReadOnlyList<string> Arguments, IReadOnlyList<string> Notices, string SettingsModule, string Directory)
{
    /// <summary>The manage.py in <paramref name="directory"/>, if there is one.</summary>
    public static string? FindManagePy(string directory)
    {
        string path = Path.Combine(directory, "manage.py");
        return File.Exists(path) ? path : null;
    }

    /// <summary>
    /// Loads the project's settings in the workers' Python (lanner.django.discovery) and reads
    /// the app, the static mounts and any notices. Throws <see cref="InvalidOperationException"/>
    /// with the reason when the settings cannot be loaded.
    /// </summary>
    public static DjangoProject Discover(string python, string packagePath, string managePy, bool media)
    {
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(managePy)!,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(WorkerPool.BootstrapCode(packagePath, "lanner.django.discovery"));
        psi.ArgumentList.Add(managePy);
        if (media)
        {
            psi.ArgumentList.Add("--media");
        }

        using Process process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {python}");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string lastLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        JsonElement result;
        try
        {
            result = JsonDocument.Parse(lastLine).RootElement;
        }
        catch (JsonException)
        {
            throw new InvalidOperationException($"cannot read the Django project next to {managePy}: {(stderr.Result + stdout).Trim()}");
        }

        if (result.TryGetProperty("error", out JsonElement error))
        {
            string traceback = result.TryGetProperty("traceback", out JsonElement tb) ? "\n" + tb.GetString()!.TrimEnd() : "";
            throw new InvalidOperationException(error.GetString() + traceback);
        }

        return new DjangoProject(
            result.GetProperty("app").GetString()!,
            [.. result.GetProperty("args").EnumerateArray().Select(a => a.GetString()!)],
            [.. result.GetProperty("notices").EnumerateArray().Select(a => a.GetString()!)],
            result.GetProperty("settings").GetString()!,
            result.GetProperty("project").GetString()!);
    }
}
