using Lanner.Hosting.Server;

namespace Lanner.Hosting.Tests.Server;

public sealed class SourceWatcherTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lanner-watch-").FullName;

    [Theory]
    [InlineData("templates/**/*.html", "/p/templates/a/b/c.html", true)]
    [InlineData("templates/**/*.html", "/p/templates/c.html", true)]
    [InlineData("templates/*.html", "/p/templates/a/c.html", false)]
    [InlineData("*.cfg", "/p/setup.cfg", true)]
    [InlineData("conf?.ini", "/p/conf1.ini", true)]
    public void GlobToRegex(string glob, string path, bool matches) =>
        Assert.Equal(matches, SourceWatcher.GlobToRegex("/p/" + glob).IsMatch(path));

    [Fact]
    public void Matters_PythonFilesAndExtras_NotIgnoredDirectories()
    {
        using var watcher = new SourceWatcher(_root, ["templates/**/*.html"], TimeProvider.System, _ => { });

        Assert.True(watcher.Matters(Path.Combine(_root, "app", "views.py")));
        Assert.True(watcher.Matters(Path.Combine(_root, "templates", "x", "page.html")));
        Assert.False(watcher.Matters(Path.Combine(_root, "README.md")));
        Assert.False(watcher.Matters(Path.Combine(_root, "app", "__pycache__", "views.py")));
        Assert.False(watcher.Matters(Path.Combine(_root, ".venv", "lib", "site.py")));
        Assert.False(watcher.Matters(Path.Combine(_root, ".git", "hooks", "x.py")));
    }

    [Theory]
    [InlineData("/etc/app/settings.toml", "/etc/app", false)]
    [InlineData("/etc/app/*.toml", "/etc/app", false)]
    [InlineData("/etc/app/**/*.yaml", "/etc/app", true)]
    [InlineData("/etc/a*/x.toml", "/etc", true)]
    public void OutsideDirectories_StartWhereTheGlobsWildcardsBegin(string glob, string directory, bool recursive) =>
        Assert.Equal([(directory, recursive)], SourceWatcher.OutsideDirectories("/srv/project", [glob]));

    [Fact]
    public void OutsideDirectories_LeaveWhatTheProjectWatcherSees() =>
        Assert.Empty(SourceWatcher.OutsideDirectories("/srv/project", ["templates/**/*.html", "/srv/project/conf/app.ini", "*.cfg"]));

    [Fact]
    public void OutsideDirectories_WatchEachDirectoryOnce() =>
        Assert.Single(SourceWatcher.OutsideDirectories("/srv/project", ["/etc/app/a.toml", "/etc/app/b.toml"]));

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
