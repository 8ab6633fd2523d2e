using System.CommandLine;
using Lanner.Settings;

namespace Lanner.Cli.Tests;

public class CommandLineTests
{
    private static EffectiveSettings Parse(params string[] args)
    {
        var commandLine = new CommandLine();
        ParseResult result = commandLine.Parse(args);
        Assert.Empty(result.Errors);
        var builder = new SettingsBuilder();
        commandLine.Apply(result, builder);
        return builder.Build();
    }

    [Fact]
    public void GunicornSpellings_AreAccepted()
    {
        EffectiveSettings s = Parse("-b", "127.0.0.1:9000", "--bind", "unix:/tmp/x", "-w", "3", "--threads", "2",
            "--chdir", "/tmp", "--pythonpath", "/a,/b", "--python", "/usr/bin/python3", "app.wsgi:application");

        Assert.Equal("app.wsgi:application", s.AppModule);
        Assert.Equal(["127.0.0.1:9000", "unix:/tmp/x"], s.Get(SettingsTable.Bind).Select(b => b.ToString()));
        Assert.Equal(3, s.Get(SettingsTable.Workers));
        Assert.Equal(2, s.Get(SettingsTable.Threads));
        Assert.Equal("/tmp", s.Get(SettingsTable.Chdir));
        Assert.Equal(["/a", "/b"], s.Get(SettingsTable.PythonPath));
        Assert.Equal("/usr/bin/python3", s.Get(SettingsTable.Python));
        Assert.Equal(SettingSource.CommandLine, s.SourceOf(SettingsTable.Workers));
    }

    [Fact]
    public void EqualsForm_IsAccepted()
    {
        EffectiveSettings s = Parse("--workers=5", "app");

        Assert.Equal(5, s.Get(SettingsTable.Workers));
    }

    [Fact]
    public void InvalidValue_ThrowsANamedError()
    {
        var ex = Assert.Throws<SettingException>(() => Parse("--threads", "zero", "app"));
        Assert.Equal("--threads: invalid value 'zero' (expected a positive integer)", ex.Message);
    }

    [Theory]
    [InlineData("--nope")]
    [InlineData("-x")]
    [InlineData("--bindd=1")]
    public void UnknownOption_IsFound(string token) =>
        Assert.Equal(token, new CommandLine().UnknownOption(["-w", "2", token, "app"]));

    [Theory]
    [InlineData("-w2")]
    [InlineData("--workers=2")]
    [InlineData("-b127.0.0.1:1")]
    public void KnownOptionForms_AreNotUnknown(string token) =>
        Assert.Null(new CommandLine().UnknownOption([token, "app"]));

    [Fact]
    public void EverySetting_HasAnOption()
    {
        var commandLine = new CommandLine();
        var names = commandLine.Root.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet();

        Assert.All(SettingsTable.All.SelectMany(s => s.Flags), flag => Assert.Contains(flag, names));
    }
}
