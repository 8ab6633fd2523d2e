namespace Lanner.Settings.Tests;

public class SettingsTableTests
{
    [Fact]
    public void Defaults_AreGunicorns()
    {
        EffectiveSettings settings = new SettingsBuilder().Build();

        Assert.Equal("127.0.0.1:8000", Assert.Single(settings.Get(SettingsTable.Bind)).ToString());
        Assert.Equal(1, settings.Get(SettingsTable.Workers));
        Assert.Equal(1, settings.Get(SettingsTable.Threads));
        Assert.Equal(SettingSource.Default, settings.SourceOf(SettingsTable.Workers));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("two")]
    [InlineData("")]
    public void Workers_RejectsNonPositive(string raw)
    {
        var ex = Assert.Throws<SettingException>(() => SettingsTable.Workers.Parse(raw));
        Assert.Equal($"--workers: invalid value '{raw}' (expected a positive integer)", ex.Message);
    }

    [Fact]
    public void EverySetting_HasFlagsHelpAndAReasonForItsDefault()
    {
        Assert.All(SettingsTable.All, s =>
        {
            // File-only exactly where gunicorn's are: the server hooks and five settings without a flag.
            string[] fileOnly = ["wsgi_app", "secure_scheme_headers", "logconfig_dict", "tmp_upload_dir", "default_proc_name"];
            Assert.Equal(s.Flags.Count == 0, s.Section == SettingsTable.HooksSection || fileOnly.Contains(s.Name));
            Assert.False(string.IsNullOrWhiteSpace(s.Help), s.Name);
            Assert.False(string.IsNullOrWhiteSpace(s.DefaultReason), s.Name);
            Assert.Equal("LANNER_" + s.Name.ToUpperInvariant(), s.EnvironmentVariable);
        });
        Assert.Equal(SettingsTable.All.Count, SettingsTable.All.Select(s => s.Name).Distinct().Count());
        Assert.Equal(SettingsTable.All.Sum(s => s.Flags.Count), SettingsTable.All.SelectMany(s => s.Flags).Distinct().Count());
    }

    [Theory]
    [InlineData("/static/=/srv/static", "/static/", "/srv/static")]
    [InlineData("/media=/srv/media/", "/media/", "/srv/media")]
    public void Static_Parses(string raw, string prefix, string dir)
    {
        StaticMapping mapping = Assert.Single(SettingsTable.Static.ParseTyped(raw));
        Assert.Equal(prefix, mapping.Prefix);
        Assert.Equal(dir, mapping.Directory);
    }

    [Theory]
    [InlineData("static=/srv")]
    [InlineData("/static/")]
    [InlineData("=/srv")]
    [InlineData("/a/../b/=/srv")]
    public void Static_RejectsBadValues(string raw) =>
        Assert.Throws<SettingException>(() => SettingsTable.Static.Parse(raw));

    [Theory]
    [InlineData("127.0.0.1", new[] { "127.0.0.1" })]
    [InlineData("10.0.0.1, 10.0.0.0/8,2001:db8::/32", new[] { "10.0.0.1", "10.0.0.0/8", "2001:db8::/32" })]
    [InlineData("*", new[] { "*" })]
    public void AllowIps_TakesAddressesNetworksOrStar(string raw, string[] entries)
    {
        Assert.Equal(entries, SettingsTable.ForwardedAllowIps.ParseTyped(raw));
        Assert.Equal(entries, SettingsTable.ProxyAllowIps.ParseTyped(raw));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("10.0.0.0/33")]
    [InlineData("127.0.0.1,proxy.internal")]
    public void AllowIps_RejectsWhatIsNotAnAddress(string raw)
    {
        // A name or a typo would never match a peer: a trusted proxy silently untrusted.
        var ex = Assert.Throws<SettingException>(() => SettingsTable.ProxyAllowIps.Parse(raw));
        Assert.Equal($"--proxy-allow-from: invalid value '{raw}' (expected comma-separated IP addresses or networks (10.0.0.0/8), or *)", ex.Message);
    }

    [Fact]
    public void WsgiApp_LaterSourceOverrides_AndTheCommandLineAppModuleWins()
    {
        var builder = new SettingsBuilder()
            .Set(SettingsTable.WsgiApp, ["fromfile:app"], SettingSource.ConfigFile, "lanner.toml")
            .Set(SettingsTable.WsgiApp, ["fromenv:app"], SettingSource.Environment, "$LANNER_WSGI_APP");
        Assert.Equal("fromenv:app", builder.Build().AppModule);

        builder.AppModule = "fromcli:app";
        Assert.Equal("fromcli:app", builder.Build().AppModule);
    }

    [Fact]
    public void LaterSource_Overrides()
    {
        var settings = new SettingsBuilder()
            .Set(SettingsTable.Workers, ["2"], SettingSource.Environment, "LANNER_WORKERS")
            .Set(SettingsTable.Workers, ["4"], SettingSource.CommandLine)
            .Build();

        Assert.Equal(4, settings.Get(SettingsTable.Workers));
        Assert.Equal(SettingSource.CommandLine, settings.SourceOf(SettingsTable.Workers));
    }
}
