using Lanner.Hosting.Front;
using Lanner.Protocol;
using Lanner.Protocol.Marshal;
using Microsoft.AspNetCore.Http;

namespace Lanner.Hosting.Tests.Front;

public class EnvironWriterTests
{
    private static RequestFacts Facts(string target, string method = "GET", string? host = "example.com:8000", string scriptName = "", string remote = "10.0.0.1", string? remotePort = "5000") =>
        new(method, target, "HTTP/1.1", "http", host, "127.0.0.1", "8000", remote, remotePort, scriptName);

    private static Dictionary<string, object?> Environ(RequestFacts facts, params (string Name, string[] Values)[] headers)
    {
        var dict = new HeaderDictionary();
        foreach (var (name, values) in headers)
        {
            dict.Append(name, values);
        }

        using var buffer = new ByteBuffer();
        EnvironWriter.Write(buffer, facts, dict);
        Payloads.SplitHead(buffer.WrittenSpan, out ReadOnlySpan<byte> head, out ReadOnlySpan<byte> body);
        Assert.Equal(0, body.Length);
        return (Dictionary<string, object?>)MarshalReader.Decode(head)!;
    }

    [Theory]
    [InlineData("/plain", "/plain", "")]
    [InlineData("/a%20b?x=%20y&z", "/a b", "x=%20y&z")]
    [InlineData("/caf%C3%A9", "/caf\u00c3\u00a9", "")] // UTF-8 bytes read as latin-1, like every WSGI server
    [InlineData("/a%2Fb", "/a/b", "")] // %2F decoded too (gunicorn's unquote)
    [InlineData("/bad%zz%4", "/bad%zz%4", "")] // malformed escapes kept
    [InlineData("http://other.example/p?q=1", "/p", "q=1")] // absolute form
    [InlineData("*", "*", "")] // OPTIONS *
    [InlineData("/?", "/", "")]
    public void Write_PathAndQuery(string target, string pathInfo, string query)
    {
        var env = Environ(Facts(target));

        Assert.Equal(pathInfo, env["PATH_INFO"]);
        Assert.Equal(query, env["QUERY_STRING"]);
        Assert.Equal(target, env["RAW_URI"]);
    }

    [Fact]
    public void Write_ProxyKeysOnlyWhenAPROXYHeaderWasRead()
    {
        Assert.DoesNotContain(Environ(Facts("/")).Keys, k => k.StartsWith("PROXY_", StringComparison.Ordinal));

        var proxy = new ProxyHeader("TCP6", new System.Net.IPEndPoint(System.Net.IPAddress.Parse("2001:db8::7"), 51234),
            new System.Net.IPEndPoint(System.Net.IPAddress.Parse("2001:db8::1"), 443));
        var env = Environ(Facts("/", remote: "2001:db8::7", remotePort: "51234") with { Proxy = proxy });
        Assert.Equal("TCP6", env["PROXY_PROTOCOL"]);
        Assert.Equal("2001:db8::1", env["PROXY_ADDR"]);
        Assert.Equal("443", env["PROXY_PORT"]);
        Assert.Equal("2001:db8::7", env["REMOTE_ADDR"]);
    }

    [Fact]
    public void Write_ClientCertificateKeysOnlyWhenAskedFor()
    {
        Assert.DoesNotContain(Environ(Facts("/")).Keys, k => k.StartsWith("SSL_CLIENT_", StringComparison.Ordinal));

        var none = Environ(Facts("/") with { Client = new ClientCertificate("NONE") });
        Assert.Equal("NONE", none["SSL_CLIENT_VERIFY"]);
        Assert.Equal(["SSL_CLIENT_VERIFY"], none.Keys.Where(k => k.StartsWith("SSL_CLIENT_", StringComparison.Ordinal)));

        var alice = Environ(Facts("/") with { Client = new ClientCertificate("SUCCESS", "CN=alice, O=Example", "CN=CA", "5EED", "-----BEGIN CERTIFICATE-----") });
        Assert.Equal("SUCCESS", alice["SSL_CLIENT_VERIFY"]);
        Assert.Equal("CN=alice, O=Example", alice["SSL_CLIENT_S_DN"]);
        Assert.Equal("CN=CA", alice["SSL_CLIENT_I_DN"]);
        Assert.Equal("5EED", alice["SSL_CLIENT_M_SERIAL"]);
        Assert.Equal("-----BEGIN CERTIFICATE-----", alice["SSL_CLIENT_CERT"]);
    }

    [Fact]
    public void Write_RequiredKeysWithTheirTypes()
    {
        var env = Environ(Facts("/x?y=1", method: "POST"), ("Content-Type", ["text/plain"]), ("Content-Length", ["5"]));

        Assert.Equal("POST", env["REQUEST_METHOD"]);
        Assert.Equal("HTTP/1.1", env["SERVER_PROTOCOL"]);
        Assert.Equal("http", env["wsgi.url_scheme"]);
        Assert.Equal("example.com", env["SERVER_NAME"]);
        Assert.Equal("8000", env["SERVER_PORT"]);
        Assert.Equal("10.0.0.1", env["REMOTE_ADDR"]);
        Assert.Equal("5000", env["REMOTE_PORT"]);
        Assert.Equal("text/plain", env["CONTENT_TYPE"]);
        Assert.Equal("5", env["CONTENT_LENGTH"]);
        Assert.False(env.ContainsKey("HTTP_CONTENT_TYPE"));
        Assert.False(env.ContainsKey("HTTP_CONTENT_LENGTH"));
        Assert.All(env.Values, v => Assert.IsType<string>(v));
    }

    [Fact]
    public void Write_RepeatedHeadersJoinedWithCommaSpace_CookiesWithSemicolon()
    {
        var env = Environ(Facts("/"), ("Accept", ["text/html", "application/json"]), ("Cookie", ["a=1", "b=2"]));

        Assert.Equal("text/html, application/json", env["HTTP_ACCEPT"]);
        Assert.Equal("a=1; b=2", env["HTTP_COOKIE"]);
    }

    [Fact]
    public void Write_HeaderNamesWithUnderscore_AreDropped()
    {
        // "X_Forwarded_For" would otherwise land on the same key as "X-Forwarded-For".
        var env = Environ(Facts("/"), ("X_Forwarded_For", ["1.2.3.4"]), ("X-Real-Thing", ["ok"]));

        Assert.False(env.ContainsKey("HTTP_X_FORWARDED_FOR"));
        Assert.Equal("ok", env["HTTP_X_REAL_THING"]);
    }

    [Fact]
    public void Write_HeaderValueBytesAboveAscii_StayLatin1()
    {
        var env = Environ(Facts("/"), ("X-Name", ["Jos\u00c3\u00a9"]));

        Assert.Equal("Jos\u00c3\u00a9", env["HTTP_X_NAME"]);
    }

    [Theory]
    [InlineData("example.com", "example.com", "80")]
    [InlineData("example.com:8080", "example.com", "8080")]
    [InlineData("[::1]:9000", "[::1]", "9000")]
    [InlineData("[::1]", "[::1]", "80")]
    [InlineData(null, "127.0.0.1", "8000")]
    public void Write_ServerNameAndPort_FromTheHostHeader(string? host, string name, string port)
    {
        var env = Environ(Facts("/", host: host));

        Assert.Equal(name, env["SERVER_NAME"]);
        Assert.Equal(port, env["SERVER_PORT"]);
    }

    [Fact]
    public void Write_ScriptName_IsStrippedFromThePath()
    {
        var env = Environ(Facts("/app/page", scriptName: "/app"));

        Assert.Equal("/app", env["SCRIPT_NAME"]);
        Assert.Equal("/page", env["PATH_INFO"]);
    }

    [Fact]
    public void Write_UnixSocketPeer_HasEmptyRemoteAddrAndNoPort()
    {
        var env = Environ(Facts("/", remote: "", remotePort: null));

        Assert.Equal("", env["REMOTE_ADDR"]);
        Assert.False(env.ContainsKey("REMOTE_PORT"));
    }
}
