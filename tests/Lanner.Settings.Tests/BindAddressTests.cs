namespace Lanner.Settings.Tests;

public class BindAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:8000", "127.0.0.1", 8000, null)]
    [InlineData("0.0.0.0:0", "0.0.0.0", 0, null)]
    [InlineData("localhost", "localhost", 8000, null)]
    [InlineData(":9000", "0.0.0.0", 9000, null)]
    [InlineData("[::1]:8001", "::1", 8001, null)]
    [InlineData("[::]", "::", 8000, null)]
    [InlineData("unix:/tmp/app.sock", null, 0, "/tmp/app.sock")]
    [InlineData("unix:///tmp/app.sock", null, 0, "/tmp/app.sock")]
    public void Parse_Valid(string raw, string? host, int port, string? path)
    {
        BindAddress bind = BindAddress.Parse(raw);

        Assert.Equal(host, bind.Host);
        Assert.Equal(port, bind.Port);
        Assert.Equal(path, bind.UnixPath);
    }

    [Theory]
    [InlineData("127.0.0.1:65536", "the port must be a number from 0 to 65535")]
    [InlineData("127.0.0.1:http", "the port must be a number from 0 to 65535")]
    [InlineData("::1:8000", "write an IPv6 address in brackets")]
    [InlineData("[::1:8000", "unclosed '['")]
    [InlineData("unix:", "unix: needs a socket path")]
    [InlineData("fd://3", "inherited file descriptor is not supported")]
    [InlineData("8000", "a value without ':' is a host; for port 8000 write 127.0.0.1:8000, or :8000 for every interface")]
    public void Parse_Invalid_SaysWhy(string raw, string why)
    {
        var ex = Assert.Throws<SettingException>(() => BindAddress.Parse(raw));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith($"--bind: invalid value '{raw}'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Setting_CommaSeparatedAndRepeated_Accumulate()
    {
        var settings = new SettingsBuilder()
            .Set(SettingsTable.Bind, ["127.0.0.1:1,127.0.0.1:2", "unix:/x"], SettingSource.CommandLine)
            .Build();

        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2", "unix:/x"], settings.Get(SettingsTable.Bind).Select(b => b.ToString()));
    }
}
