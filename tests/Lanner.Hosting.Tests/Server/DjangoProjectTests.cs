using System.Text.Json;
using Lanner.Hosting.Server;
using Lanner.Settings;

namespace Lanner.Hosting.Tests.Server;

public sealed class DjangoProjectTests
{
    private const string Described = """
        {"app": "shop.wsgi:application", "args": ["--static", "/static/=/srv/static"],
         "notices": ["STATIC_ROOT (/srv/static) is empty"], "media_args": ["--static", "/media/=/srv/media"],
         "media_notices": [], "settings": "shop.settings", "project": "/srv/shop"}
        """;

    [Fact]
    public void Parse_ReadsWhatDiscoveryPrints()
    {
        DjangoProject p = DjangoProject.Parse(Described);
        Assert.Equal("shop.wsgi:application", p.AppModule);
        Assert.Equal(["--static", "/static/=/srv/static"], p.Arguments);
        Assert.Equal(["--static", "/media/=/srv/media"], p.MediaArguments);
        Assert.Single(p.Notices);
        Assert.Empty(p.MediaNotices);
        Assert.Equal("shop.settings", p.SettingsModule);
        Assert.Equal("/srv/shop", p.Directory);
    }

    [Fact]
    public void Parse_AnErrorFromTheSettings_IsItsMessageAndTraceback()
    {
        var ex = Assert.Throws<InvalidOperationException>(() =>
            DjangoProject.Parse("""{"error": "cannot load the Django settings 'x'", "traceback": "Traceback ...\n"}"""));
        Assert.Equal("cannot load the Django settings 'x'\nTraceback ...", ex.Message);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"app": "a:b"}""")]
    [InlineData("""{"app": "a:b", "args": "--static", "notices": [], "media_args": [], "media_notices": [], "settings": "s", "project": "/p"}""")]
    [InlineData("""{"app": null, "args": [], "notices": [], "media_args": [], "media_notices": [], "settings": "s", "project": "/p"}""")]
    public void Parse_AnythingElse_IsAJsonException(string text) =>
        Assert.ThrowsAny<JsonException>(() => DjangoProject.Parse(text));

    private static ServerOptions FromManagePy(bool media, params string[] statics) => FromManagePy(media, Described, null, statics);

    private static ServerOptions FromManagePy(bool media, string described, string? accessLog, params string[] statics)
    {
        var builder = new SettingsBuilder { AppModule = "shop.wsgi:application" };
        if (accessLog is not null)
        {
            builder.Set(SettingsTable.AccessLog, [accessLog], SettingSource.CommandLine);
        }

        if (media)
        {
            builder.SetValue(SettingsTable.Media, true, SettingSource.ConfigFile);
        }

        if (statics.Length > 0)
        {
            builder.SetValue(SettingsTable.Static, statics.Select(StaticMapping.Parse).ToList(), SettingSource.CommandLine);
        }

        var launch = new LaunchContext { WorkerPackagePath = "/nonexistent", DjangoProject = described };
        return ServerOptions.From(builder.Build(), launch, _ => { });
    }

    [Fact]
    public void HandedOverProject_MountsStaticRoot_AndMediaRootOnlyWithMedia()
    {
        Assert.Equal(["/static/"], FromManagePy(media: false).Static.Select(s => s.Prefix));
        Assert.Equal(["/static/", "/media/"], FromManagePy(media: true).Static.Select(s => s.Prefix));
    }

    [Fact]
    public void HandedOverProject_AStaticMountOfOnesOwn_TakesThePrefix()
    {
        ServerOptions options = FromManagePy(false, "/static/=/elsewhere");
        StaticMapping only = Assert.Single(options.Static);
        Assert.Equal("/elsewhere", only.Directory);
    }

    [Fact]
    public void Debug_LogsEachRequestToStdout_UnlessTheAccessLogIsSetAnywhere()
    {
        string debug = Described.Replace("\"project\": \"/srv/shop\"", "\"project\": \"/srv/shop\", \"debug\": true");
        Assert.True(DjangoProject.Parse(debug).Debug);
        Assert.Equal("-", FromManagePy(false, debug, null).Logs.AccessLog);
        Assert.Null(FromManagePy(false, debug, "").Logs.AccessLog);
        Assert.Equal(Path.GetFullPath("access.log"), FromManagePy(false, debug, "access.log").Logs.AccessLog);
        Assert.Null(FromManagePy(false, Described, null).Logs.AccessLog);
    }

    [Fact]
    public void Debug_ReloadsTheProjectsFiles_UnlessReloadIsSetAnywhere()
    {
        string debug = Described.Replace("\"project\": \"/srv/shop\"", "\"project\": \"/srv/shop\", \"debug\": true");
        var notices = new List<string>();
        var launch = new LaunchContext { WorkerPackagePath = "/nonexistent", DjangoProject = debug };
        ServerOptions on = ServerOptions.From(new SettingsBuilder { AppModule = "shop.wsgi:application" }.Build(), launch, notices.Add);
        Assert.Equal("/srv/shop", on.WatchDirectory);
        Assert.Contains(notices, n => n.Contains("DEBUG is on: the workers restart", StringComparison.Ordinal));

        var off = new SettingsBuilder { AppModule = "shop.wsgi:application" };
        off.Set(SettingsTable.Reload, ["false"], SettingSource.CommandLine);
        Assert.Null(ServerOptions.From(off.Build(), launch, _ => { }).WatchDirectory);
        Assert.Null(FromManagePy(false).WatchDirectory); // DEBUG off
    }
}
