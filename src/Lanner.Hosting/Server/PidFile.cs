using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Server;

/// <summary>
/// --pid FILE: the master's pid, written before it listens and removed when it exits (only if the
/// file still holds our pid), as gunicorn does. A file naming another live process is refused.
/// </summary>
internal sealed class PidFile : IDisposable
{
    private readonly string _path;

    private PidFile(string path) => _path = path;

    /// <summary>Writes the file; logs why and returns null when it cannot.</summary>
    public static PidFile? TryCreate(string path, ILogger log)
    {
        try
        {
            if (File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), out int other) && other != Environment.ProcessId && IsAlive(other))
            {
                ServerLog.PidFileFailed(log, path, $"it names pid {other}, which is running: is another lanner using it?");
                return null;
            }

            string temporary = path + ".tmp";
            File.WriteAllText(temporary, $"{Environment.ProcessId}\n");
            File.Move(temporary, path, overwrite: true);
            return new PidFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ServerLog.PidFileFailed(log, path, ex.Message);
            return null;
        }
    }

    private static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");

    public void Dispose()
    {
        try
        {
            if (File.Exists(_path) && File.ReadAllText(_path).Trim() == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                File.Delete(_path);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Leaving a stale pid file is harmless: the next start checks whether its pid is alive.
        }
    }
}
