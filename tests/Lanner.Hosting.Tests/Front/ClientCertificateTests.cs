using System.Security.Cryptography.X509Certificates;
using Lanner.Hosting.Front;

namespace Lanner.Hosting.Tests.Front;

public class ClientCertificateTests
{
    [Theory]
    [InlineData("O=Example, CN=alice", "CN=alice,O=Example")] // the most specific RDN first, as nginx prints it
    [InlineData("C=FR, O=\"Acme, Inc.\", CN=bob", "CN=bob,O=Acme\\, Inc.,C=FR")]
    [InlineData("CN=\" lead\"", "CN=\\ lead")]
    [InlineData("DC=org, DC=example, UID=jdoe", "UID=jdoe,DC=example,DC=org")]
    public void Names_are_written_as_rfc_2253(string encodedInOrder, string expected)
    {
        // X500DistinguishedName parses .NET's "first encoded first" text form.
        var name = new X500DistinguishedName(encodedInOrder, X500DistinguishedNameFlags.None);
        Assert.Equal(expected, ClientCertificate.Rfc2253(name));
    }
}
