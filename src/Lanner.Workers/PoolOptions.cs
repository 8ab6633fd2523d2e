namespace Lanner.Workers;

/// <summary>
/// What the pool needs to run workers, made by the hosting layer from the settings.
/// Immutable: a reload builds a new one.
/// </summary>
public sealed record PoolOptions
{
    /// <summary>Worker processes to keep running (gunicorn's -w).</summary>
    public required int Workers { get; init; }

    /// <summary>Requests each worker runs at once (gunicorn's --threads).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The interpreter the workers run.</summary>
    public required string PythonExecutable { get; init; }

    /// <summary>The directory that holds the <c>lanner</c> package shipped with this server.</summary>
    public required string WorkerPackagePath { get; init; }

    /// <summary>APP_MODULE as the user wrote it.</summary>
    public required string AppSpec { get; init; }

    public string? Chdir { get; init; }

    public IReadOnlyList<string> PythonPath { get; init; } = [];

    /// <summary>Extra environment variables for the workers' Python (set before the app is imported).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public string ScriptName { get; init; } = "";

    /// <summary>Largest frame a worker may send: 16 MiB; bodies travel in many smaller frames.</summary>
    public int MaxFramePayload { get; init; } = Lanner.Protocol.FrameParser.DefaultMaxPayload;

    /// <summary>How long a started process may take to connect and say hello.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
