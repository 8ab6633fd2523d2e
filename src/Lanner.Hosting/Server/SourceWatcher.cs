using System.Text.RegularExpressions;

namespace Lanner.Hosting.Server;

/// <summary>
/// --reload: watches the project's Python files (and --reload-extra-file globs) and reports the
/// first changed file of a burst, 150 ms after the burst began (an editor's save touches several
/// files). Created and disposed by <see cref="LannerServer"/>.
/// </summary>
internal sealed class SourceWatcher : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(150);

    private static readonly HashSet<string> IgnoredDirectories =
        new(StringComparer.Ordinal) { ".git", ".hg", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache", ".tox", "staticfiles" };

    private readonly string _root;
    private readonly Regex[] _extra;
    private readonly Action<string> _changed;
    private readonly FileSystemWatcher _watcher;
    private readonly ITimer _timer;
    private readonly object _sync = new();
    private string? _pending;

    public SourceWatcher(string root, IReadOnlyList<string> extraGlobs, TimeProvider time, Action<string> changed)
    {
        _root = Path.GetFullPath(root);
        _extra = [.. extraGlobs.Select(g => GlobToRegex(Path.IsPathRooted(g) ? g : Path.Combine(_root, g)))];
        _changed = changed;
        _timer = time.CreateTimer(_ => Fire(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _watcher = new FileSystemWatcher(_root)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.DirectoryName,
        };
        _watcher.Changed += (_, e) => OnEvent(e.FullPath);
        _watcher.Created += (_, e) => OnEvent(e.FullPath);
        _watcher.Deleted += (_, e) => OnEvent(e.FullPath);
        _watcher.Renamed += (_, e) => OnEvent(e.FullPath);
        _watcher.EnableRaisingEvents = true;
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

    private void OnEvent(string path)
    {
        if (!Matters(path))
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
            _changed(Path.GetRelativePath(_root, path));
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
        _watcher.Dispose();
        _timer.Dispose();
    }
}
