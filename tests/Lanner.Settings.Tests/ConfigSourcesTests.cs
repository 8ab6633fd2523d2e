namespace Lanner.Settings.Tests;

/// <summary>The environment as a source: values and errors name the variable they came from.</summary>
public class ConfigSourcesTests
{
    [Theory]
    [InlineData("LANNER_WORKERS", "many", "$LANNER_WORKERS: --workers: invalid value 'many' (expected a positive integer)")]
    [InlineData("LANNER_PRELOAD_APP", "maybe", "$LANNER_PRELOAD_APP: --preload: invalid value 'maybe' (expected true or false)")]
    [InlineData("LANNER_CPU_SCHEDULING", "fifo", "$LANNER_CPU_SCHEDULING: --cpu-scheduling: invalid value 'fifo' (expected batch or normal)")]
    public void BadVariable_IsNamedInTheError(string variable, string value, string message)
    {
        var ex = Assert.Throws<SettingException>(() =>
            ConfigSources.ApplyEnvironment(new SettingsBuilder(), new Dictionary<string, string> { [variable] = value }));
        Assert.Equal(message, ex.Message);
    }

    [Theory]
    [InlineData("WEB_CONCURRENCY", "lots", "$WEB_CONCURRENCY: --workers: invalid value 'lots' (expected a positive integer)")]
    [InlineData("PORT", "http", "$PORT: --bind: invalid value '0.0.0.0:http'")]
    public void BadEnvironmentDefault_IsNamedInTheError(string variable, string value, string message)
    {
        var ex = Assert.Throws<SettingException>(() =>
            ConfigSources.ApplyEnvironmentDefaults(new SettingsBuilder(), new Dictionary<string, string> { [variable] = value }));
        Assert.StartsWith(message, ex.Message);
    }

    [Fact]
    public void Variables_AreReportedAsTheirSource()
    {
        var builder = new SettingsBuilder();
        ConfigSources.ApplyEnvironmentDefaults(builder, new Dictionary<string, string> { ["WEB_CONCURRENCY"] = "5", ["PORT"] = "7000" });
        ConfigSources.ApplyEnvironment(builder, new Dictionary<string, string> { ["LANNER_TIMEOUT"] = "44" });
        EffectiveSettings settings = builder.Build();

        Assert.Equal(5, settings.Get(SettingsTable.Workers));
        Assert.Equal((SettingSource.EnvironmentDefault, "$WEB_CONCURRENCY"), (settings.SourceOf(SettingsTable.Workers), settings.OriginOf(SettingsTable.Workers)));
        Assert.Equal("0.0.0.0:7000", Assert.Single(settings.Get(SettingsTable.Bind)).ToString());
        Assert.Equal((SettingSource.Environment, "$LANNER_TIMEOUT"), (settings.SourceOf(SettingsTable.Timeout), settings.OriginOf(SettingsTable.Timeout)));
    }

    [Fact]
    public void RefusedSettingFromAVariable_NamesIt()
    {
        var ex = Assert.Throws<SettingException>(() =>
            ConfigSources.ApplyEnvironment(new SettingsBuilder(), new Dictionary<string, string> { ["LANNER_DAEMON"] = "true" }));
        Assert.StartsWith("--daemon (from $LANNER_DAEMON) is not supported", ex.Message);
    }

    [Fact]
    public void CommandLineValue_HasNoOriginPrefix()
    {
        var ex = Assert.Throws<SettingException>(() => new SettingsBuilder().Set(SettingsTable.Threads, ["0"], SettingSource.CommandLine));
        Assert.Equal("--threads: invalid value '0' (expected a positive integer)", ex.Message);
    }

    [Theory]
    [InlineData("workers", "workers", 0)]
    [InlineData("worker", "workers", 1)]
    [InlineData("timeuot", "timeout", 1)] // a swap of neighbours is one edit
    [InlineData("bind", "backlog", 6)]
    public void EditDistance(string a, string b, int expected) => Assert.Equal(expected, ConfigSources.EditDistance(a, b));
}
