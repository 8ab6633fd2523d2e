using System.Text.RegularExpressions;

namespace Lanner.Hosting.Server;

/// <summary>
/// --reload: watches the project's Python files (and --reload-extra-file globs, also outside the
/// project) and reports the first changed file of a burst, 150 ms after the burst began (an
/// editor's save touches several files). Created and disposed by <see cref="LannerServer"/>.
/// </summary>
internal sealed class SourceWatcher : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(150);

    private static readonly HashSet<string> IgnoredDirectories =
        new(StringComparer.Ordinal) { ".git", ".hg", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache", ".tox", "staticfiles" };

    private readonly string _root;
    private readonly Regex[] _extra;
    private readonly Action<string> _changed;
    private readonly List<FileSystemWatcher> _watchers = [];

    /// <summary>The directories outside the project watched for --reload-extra-file.</summary>
    public List<string> WatchedOutside { get; } = [];
    private readonly ITimer _timer;
    private readonly object _sync = new();
    private string? _pending;

    public SourceWatcher(string root, IReadOnlyList<string> extraGlobs, TimeProvider time, Action<string> changed)
    {
        _root = Path.GetFullPath(root);
        _extra = [.. extraGlobs.Select(g => GlobToRegex(Path.IsPathRooted(g) ? g : Path.Combine(_root, g)))];
        _changed = changed;
        _timer = time.CreateTimer(_ => Fire(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Watch(_root, recursive: true, Matters);

        // Extra files outside the project get a watcher on the directory their glob starts in.
        foreach ((string directory, bool recursive) in OutsideDirectories(_root, extraGlobs))
        {
            if (Directory.Exists(directory))
            {
                Watch(directory, recursive, path => _extra.Any(r => r.IsMatch(path)));
                WatchedOutside.Add(directory);
            }
        }
    }

    /// <summary>
    /// The directories, outside <paramref name="root"/>, where the extra globs start (the part
    /// before the first wildcard), and whether a wildcard in a directory part means subdirectories.
    /// </summary>
    internal static IEnumerable<(string Directory, bool Recursive)> OutsideDirectories(string root, IReadOnlyList<string> extraGlobs)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string glob in extraGlobs)
        {
            string full = Path.IsPathRooted(glob) ? glob : Path.Combine(root, glob);
            int wildcard = full.IndexOfAny(['*', '?']);
            string fixedPart = wildcard < 0 ? full : full[..wildcard];
            string directory = Path.GetDirectoryName(fixedPart.EndsWith('/') ? fixedPart + "x" : fixedPart) ?? "/";
            bool recursive = wildcard >= 0 && full.IndexOf('/', wildcard) >= 0;
            bool inside = directory == root || directory.StartsWith(root + "/", StringComparison.Ordinal);
            if (!inside && seen.Add(directory + (recursive ? "/**" : "")))
            {
                yield return (directory, recursive);
            }
        }
    }

    private void Watch(string directory, bool recursive, Func<string, bool> matters)
    {
        var watcher = new FileSystemWatcher(directory)
        {
            IncludeSubdirectories = recursive,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.DirectoryName,
        };
        watcher.Changed += (_, e) => OnEvent(e.FullPath, matters);
        watcher.Created += (_, e) => OnEvent(e.FullPath, matters);
        watcher.Deleted += (_, e) => OnEvent(e.FullPath, matters);
        watcher.Renamed += (_, e) => OnEvent(e.FullPath, matters);
        watcher.EnableRaisingEvents = true;
        _watchers.Add(watcher);
    }

    /// <summary>True for a file whose change restarts the workers.</summary>
    internal bool Matters(string fullPath)
    {
        string relative = Path.GetRelativePath(_root, fullPath);
        string[] parts = relative.Split(Path.DirectorySeparatorChar);
        if (parts.Take(parts.Length - 1).Any(IgnoredDirectories.Contains))
        {
            return false;
        }

        return fullPath.EndsWith(".py", StringComparison.Ordinal) || _extra.Any(r => r.IsMatch(fullPath));
    }

    private void OnEvent(string path, Func<string, bool> matters)
    {
        if (!matters(path))
        {
            return;
        }

        lock (_sync)
        {
            if (_pending is null)
            {
                _pending = path;
                _timer.Change(Settle, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void Fire()
    {
        string? path;
        lock (_sync)
        {
            path = _pending;
            _pending = null;
        }

        if (path is not null)
        {
            bool inside = path.StartsWith(_root + "/", StringComparison.Ordinal);
            _changed(inside ? Path.GetRelativePath(_root, path) : path);
        }
    }

    /// <summary>A glob (*, ?, **/) as a regular expression over full paths.</summary>
    internal static Regex GlobToRegex(string glob)
    {
        var pattern = new System.Text.StringBuilder("^");
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                bool slash = i + 2 < glob.Length && glob[i + 2] == '/';
                pattern.Append(slash ? "(?:.*/)?" : ".*");
                i += slash ? 2 : 1;
            }
            else if (c == '*')
            {
                pattern.Append("[^/]*");
            }
            else if (c == '?')
            {
                pattern.Append("[^/]");
            }
            else
            {
                pattern.Append(Regex.Escape(c.ToString()));
            }
        }

        return new Regex(pattern.Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    public void Dispose()
    {
        foreach (FileSystemWatcher watcher in _watchers)
        {
            watcher.Dispose();
        }

        _timer.Dispose();
    }
}
