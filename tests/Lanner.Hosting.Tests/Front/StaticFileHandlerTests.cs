using Lanner.Hosting.Front.Static;
using Microsoft.AspNetCore.Http;

namespace Lanner.Hosting.Tests.Front;

public class StaticFileHandlerTests
{
    private static readonly StaticFile File = new("/srv/static/site.css", 1000, new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero), null);

    private static HeaderDictionary Headers(params (string Name, string Value)[] pairs)
    {
        var headers = new HeaderDictionary();
        foreach (var (name, value) in pairs)
        {
            headers[name] = value;
        }

        return headers;
    }

    [Theory]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("bytes=900-", 900, 100)]
    [InlineData("bytes=-10", 990, 10)]
    [InlineData("bytes=-5000", 0, 1000)]
    [InlineData("bytes=990-5000", 990, 10)]
    public void ParseRange_Satisfiable(string range, long start, long length)
    {
        Assert.Equal(StaticFileHandler.RangeResult.Satisfiable, StaticFileHandler.ParseRange(Headers(("Range", range)), File, out long s, out long l));
        Assert.Equal((start, length), (s, l));
    }

    [Theory]
    [InlineData("bytes=1000-")]
    [InlineData("bytes=-0")]
    public void ParseRange_Unsatisfiable(string range) =>
        Assert.Equal(StaticFileHandler.RangeResult.Unsatisfiable, StaticFileHandler.ParseRange(Headers(("Range", range)), File, out _, out _));

    [Theory]
    [InlineData("items=0-1")]
    [InlineData("bytes=5-1")]
    [InlineData("bytes=a-b")]
    [InlineData("bytes=0-1,3-4")]
    [InlineData("bytes=")]
    public void ParseRange_IgnoredServesTheWholeFile(string range) =>
        Assert.Equal(StaticFileHandler.RangeResult.None, StaticFileHandler.ParseRange(Headers(("Range", range)), File, out _, out _));

    [Fact]
    public void ParseRange_IfRangeThatDoesNotMatch_ServesTheWholeFile()
    {
        Assert.Equal(StaticFileHandler.RangeResult.None,
            StaticFileHandler.ParseRange(Headers(("Range", "bytes=0-1"), ("If-Range", "\"old\"")), File, out _, out _));
        Assert.Equal(StaticFileHandler.RangeResult.Satisfiable,
            StaticFileHandler.ParseRange(Headers(("Range", "bytes=0-1"), ("If-Range", File.ETag)), File, out _, out _));
    }

    [Fact]
    public void NotModified_Rules()
    {
        Assert.True(StaticFileHandler.NotModified(Headers(("If-None-Match", File.ETag)), File));
        Assert.True(StaticFileHandler.NotModified(Headers(("If-None-Match", "\"x\", W/" + File.ETag)), File));
        Assert.True(StaticFileHandler.NotModified(Headers(("If-None-Match", "*")), File));
        Assert.False(StaticFileHandler.NotModified(Headers(("If-None-Match", "\"x\"")), File));
        Assert.True(StaticFileHandler.NotModified(Headers(("If-Modified-Since", File.LastModified)), File));
        Assert.False(StaticFileHandler.NotModified(Headers(("If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT")), File));
        Assert.False(StaticFileHandler.NotModified(Headers(("If-None-Match", "\"x\""), ("If-Modified-Since", File.LastModified)), File));
        Assert.False(StaticFileHandler.NotModified(Headers(("If-Modified-Since", "garbage")), File));
    }

    [Theory]
    [InlineData("br, gzip", "br")]
    [InlineData("gzip;q=1.0, br;q=0", "gzip")]
    [InlineData("deflate", null)]
    [InlineData("", null)]
    [InlineData("BR", "br")]
    public void ChooseEncoding(string accept, string? expected)
    {
        var entry = new StaticFileCache.Entry(File,
            new StaticFile(File.Path + ".br", 10, File.Modified, "br"),
            new StaticFile(File.Path + ".gz", 20, File.Modified, "gzip"), 0);

        Assert.Equal(expected, StaticFileHandler.ChooseEncoding(accept, entry).Encoding);
    }

    [Theory]
    [InlineData("/s/app.0123456789ab.css", true)]
    [InlineData("/s/admin/js/core.a1b2c3d4e5f6.js", true)]
    [InlineData("/s/app.css", false)]
    [InlineData("/s/app.0123456789.css", false)]
    [InlineData("/s/app.0123456789AB.css", false)]
    public void IsHashedName(string path, bool hashed) => Assert.Equal(hashed, StaticFileHandler.IsHashedName(path));

    [Theory]
    [InlineData("a.css", "text/css; charset=utf-8")]
    [InlineData("a.js", "text/javascript; charset=utf-8")]
    [InlineData("a.png", "image/png")]
    [InlineData("a.woff2", "font/woff2")]
    [InlineData("a.unknownext", "application/octet-stream")]
    public void ContentTypeOf(string name, string type) => Assert.Equal(type, StaticFileHandler.ContentTypeOf(name));

    [Theory]
    [InlineData("a/b.css", "a/b.css")]
    [InlineData("caf%C3%A9.css", "café.css")]
    [InlineData("a%2fb", "a/b")]
    [InlineData("a%5cb", null)]
    [InlineData("a\\b", null)]
    [InlineData("a%00b", null)]
    [InlineData("a%zz", null)]
    [InlineData("a%C3", null)]
    [InlineData("%c0%ae", null)]
    [InlineData("x.css?v=1", "x.css")]
    public void DecodeOnce(string raw, string? decoded) => Assert.Equal(decoded, StaticPath.DecodeOnce(raw));
}
