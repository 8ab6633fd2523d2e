using System.Diagnostics;
using System.Text.Json;
using Lanner.Workers;

namespace Lanner.Hosting.Server;

/// <summary>
/// What a Django project tells Lanner: found by the master when it is started with no APP_MODULE
/// next to a manage.py, or handed over by <c>python manage.py lanner</c>. The MEDIA_ROOT mount is
/// kept apart, for the <c>media</c> setting to decide.
/// </summary>
public sealed record DjangoProject(
    string AppModule,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<string> Notices,
    IReadOnlyList<string> MediaArguments,
    IReadOnlyList<string> MediaNotices,
    string SettingsModule,
    string Directory,
    bool Debug = false)
{
    /// <summary>The variable through which <c>python manage.py lanner</c> hands the project over (lanner.django.discovery's JSON).</summary>
    public const string EnvironmentVariable = "LANNER_DJANGO_PROJECT";

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
    public static DjangoProject Discover(string python, string packagePath, string managePy)
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

        using Process process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {python}");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string lastLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        try
        {
            return Parse(lastLine);
        }
        catch (JsonException)
        {
            throw new InvalidOperationException($"cannot read the Django project next to {managePy}: {(stderr.Result + stdout).Trim()}");
        }
    }

    /// <summary>
    /// Reads lanner.django.discovery's JSON. Throws <see cref="InvalidOperationException"/> with
    /// the reason it gives when the settings did not load, and <see cref="JsonException"/> when
    /// the text is not that JSON.
    /// </summary>
    public static DjangoProject Parse(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement result = document.RootElement;
        if (result.TryGetProperty("error", out JsonElement error))
        {
            string traceback = result.TryGetProperty("traceback", out JsonElement tb) ? "\n" + tb.GetString()!.TrimEnd() : "";
            throw new InvalidOperationException(error.GetString() + traceback);
        }

        try
        {
            return new DjangoProject(
                Text(result, "app"),
                Strings(result, "args"),
                Strings(result, "notices"),
                Strings(result, "media_args"),
                Strings(result, "media_notices"),
                Text(result, "settings"),
                Text(result, "project"),
                result.TryGetProperty("debug", out JsonElement debug) && debug.GetBoolean());
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException)
        {
            throw new JsonException($"not a description of a Django project: {ex.Message}", ex);
        }
    }

    private static string Text(JsonElement e, string name) => e.GetProperty(name).GetString()
        ?? throw new InvalidOperationException($"'{name}' is null");

    private static string[] Strings(JsonElement e, string name) =>
        [.. e.GetProperty(name).EnumerateArray().Select(a => a.GetString() ?? throw new InvalidOperationException($"null in '{name}'"))];
}
