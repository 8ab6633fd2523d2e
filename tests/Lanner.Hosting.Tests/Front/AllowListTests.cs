using System.Net;
using Lanner.Hosting.Front;

namespace Lanner.Hosting.Tests.Front;

public class AllowListTests
{
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "127.0.0.2", false)]
    [InlineData("127.0.0.1", "::ffff:127.0.0.1", true)] // an IPv4 client on a dual-stack socket
    [InlineData("10.0.0.0/8", "10.200.3.4", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("10.0.0.1/8", "10.2.3.4", true)] // host bits in the network: as 10.0.0.0/8
    [InlineData("10.0.0.0/8,192.168.1.5", "192.168.1.5", true)]
    [InlineData("2001:db8::/32", "2001:db8:1::9", true)]
    [InlineData("2001:db8::/32", "2001:db9::9", false)]
    [InlineData("::1", "::1", true)]
    [InlineData("::1", "127.0.0.1", false)]
    [InlineData("*", "203.0.113.7", true)]
    [InlineData("", "127.0.0.1", false)]
    public void Allows_listed_addresses_and_networks_only(string list, string remote, bool allowed)
    {
        var allowList = new AllowList(list.Split(',', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(allowed, allowList.Allows(IPAddress.Parse(remote)));
    }

    [Fact]
    public void A_unix_socket_peer_is_always_trusted()
    {
        Assert.True(new AllowList([]).Allows(null));
    }
}
