using System.Text.Json;
using Lanner.Hosting.Front;
using Lanner.Hosting.Front.Logs;
using Microsoft.AspNetCore.Http;

namespace Lanner.Hosting.Tests.Front;

/// <summary>
/// The access log formats. Expected values are what gunicorn 20.1 (glogging.py, Python's
/// %-operator) prints for the same request; tests/e2e/test_access_log.py compares with a real one.
/// </summary>
public class AccessLogFormatTests
{
    private static AccessRecord Record(
        string target = "/path?q=1",
        string method = "GET",
        string? host = "example.com:8000",
        (string Name, string[] Values)[]? request = null,
        (string Name, string[] Values)[]? response = null,
        int status = 200,
        long bytes = 13,
        string requestId = "abc-123")
    {
        var requestHeaders = new HeaderDictionary();
        foreach (var (name, values) in request ?? [])
        {
            requestHeaders.Append(name, values);
        }

        var responseHeaders = new HeaderDictionary();
        foreach (var (name, values) in response ?? [])
        {
            responseHeaders.Append(name, values);
        }

        var facts = new RequestFacts(method, target, "HTTP/1.1", "http", host, "127.0.0.1", "8000", "10.0.0.1", "5000", "");
        return new AccessRecord(facts, requestHeaders, responseHeaders, status, bytes, TimeSpan.FromMilliseconds(1234.5678),
            new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(1)), 42, requestId);
    }

    private static string Render(string format, AccessRecord record) => AccessLogFormat.Compile(format).Render(record);

    [Fact]
    public void Render_GunicornDefault()
    {
        var record = Record(request: [("Referer", ["http://r/\"x\""]), ("User-Agent", ["ua"])]);

        Assert.Equal(
            "10.0.0.1 - - [02/Jan/2026:03:04:05 +0100] \"GET /path?q=1 HTTP/1.1\" 200 13 \"http://r/\\\"x\\\"\" \"ua\"",
            Render("%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"", record));
    }

    [Fact]
    public void ClfTime_FollowsTheSecondAndTheOffset()
    {
        // The last %(t) is kept for lines of the same second: a new second or offset makes a new one.
        var t = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(1));
        Assert.Equal("[02/Jan/2026:03:04:05 +0100]", AccessLogFormat.ClfTime(t));
        Assert.Equal("[02/Jan/2026:03:04:05 +0100]", AccessLogFormat.ClfTime(t.AddMilliseconds(999)));
        Assert.Equal("[02/Jan/2026:03:04:06 +0100]", AccessLogFormat.ClfTime(t.AddSeconds(1)));
        Assert.Equal("[02/Jan/2026:02:04:06 +0000]", AccessLogFormat.ClfTime(t.AddSeconds(1).ToOffset(TimeSpan.Zero)));
        Assert.Equal("[01/Jan/2026:20:34:06 -0530]", AccessLogFormat.ClfTime(t.AddSeconds(1).ToOffset(new TimeSpan(-5, -30, 0))));
    }

    [Fact]
    public void Render_RepeatedHeaderFieldsJoinedWithCommas()
    {
        var record = Record(request: [("User-Agent", ["a", "", "b"])], response: [("X-Seen", ["1"])]);

        Assert.Equal("a,,b 1 -", Render("%(a)s %({x-seen}o)s %(f)s", record));
    }

    [Fact]
    public void Render_TimeAtoms()
    {
        Assert.Equal("1 1234 1234567 1.234567 <42>", Render("%(T)s %(M)s %(D)s %(L)s %(p)s", Record()));
    }

    // Python's %-conversions, as checked against /usr/bin/python3 (e.g. '%05d' % 13 == '00013').
    [Theory]
    [InlineData(13L, "05d", "00013")]
    [InlineData("GET", ".2s", "GE")]
    [InlineData("200", "-5s", "200  ")]
    [InlineData("200", "5s", "  200")]
    [InlineData(13L, "+d", "+13")]
    [InlineData(5L, " d", " 5")]
    [InlineData(7L, "-06d", "7     ")]
    [InlineData(42L, ".5d", "00042")]
    [InlineData(13L, "#x", "0xd")]
    [InlineData(13L, "#08x", "0x00000d")]
    [InlineData(8L, "#o", "0o10")]
    [InlineData(0L, ".3f", "0.000")]
    [InlineData("-1.5", "08.3f", "-001.500")]
    [InlineData("200", "d", "200")] // gunicorn's s is a str, which Python refuses for %d; Lanner formats the number
    [InlineData("abc", "d", "abc")] // not a number: the text rather than no line at all
    [InlineData("abc", "10.2s", "        ab")]
    [InlineData(200L, "r", "200")]
    [InlineData("it's \"x\"", "r", "'it\\'s \"x\"'")]
    [InlineData("a\\b\u0001\u00e9\u00ad\t", "r", "'a\\\\b\\x01\u00e9\\xad\\t'")]
    [InlineData("caf\u00e9", "a", "'caf\\xe9'")]
    public void Format_PythonConversions(object value, string spec, string expected)
    {
        Assert.Equal(expected, AccessLogFormat.Format(value, spec));
    }

    [Theory]
    [InlineData("%(m).2s|%(B)05d|%(s)-5s|", "GE|00013|200  |")]
    [InlineData("100%%(h)s", "100%(h)s")] // "%%" is a '%', so "(h)s" is text, as in Python
    [InlineData("%%%(h)s%%", "%10.0.0.1%")]
    [InlineData("%(h)s %(zz)s %(s)r", "10.0.0.1 - '200'")] // unknown atoms are '-'; s is a str in gunicorn
    [InlineData("%(h)q %(h", "%(h)q %(h")] // not placeholders: text
    [InlineData("50% off", "50% off")]
    public void Render_FormatSpecs(string format, string expected)
    {
        Assert.Equal(expected, Render(format, Record()));
    }

    [Fact]
    public void Compile_WidthBeyondInt_IsCappedNotACrash()
    {
        Assert.Equal(new string(' ', 4093) + "200|", Render("%(s)99999999999s|", Record()));
    }

    [Fact]
    public void Render_QuotesEscapedBeforeConversion()
    {
        var record = Record(request: [("X-A", ["say \"hi\""])]);

        Assert.Equal("say \\\"hi\\\"|'say \\\\\"hi\\\\\"'", Render("%({x-a}i)s|%({x-a}i)r", record));
    }

    [Fact]
    public void Render_HeaderAtoms()
    {
        var record = Record(
            request: [("X-Custom", ["a", "b"]), ("Cookie", ["c=1", "d=2"]), ("Content-Type", ["text/plain"])],
            response: [("Content-Type", ["text/html"])]);

        // {header}i: every value of a repeated header (gunicorn keeps only the last one).
        Assert.Equal("a,b|c=1,d=2|text/html|-|-", Render("%({X-CUSTOM}i)s|%({cookie}i)s|%({content-type}o)s|%({x-missing}o)s|%({x-missing}i)s", record));
    }

    [Fact]
    public void Render_EnvironAtomsAreWhatTheAppSaw()
    {
        var record = Record(
            target: "/caf%C3%A9?q=%22",
            request: [("X-Custom", ["a", "b"]), ("Cookie", ["c=1", "d=2"]), ("Content-Type", ["text/plain"]), ("Host", ["example.com:8000"])]);

        Assert.Equal(
            "a, b|c=1; d=2|text/plain|-|-|example.com|8000|lanner|/caf\u00c3\u00a9|q=%22|/caf%C3%A9?q=%22|5000|-",
            Render(
                "%({HTTP_X_CUSTOM}e)s|%({http_cookie}e)s|%({CONTENT_TYPE}e)s|%({HTTP_CONTENT_TYPE}e)s|%({CONTENT_LENGTH}e)s|"
                + "%({SERVER_NAME}e)s|%({SERVER_PORT}e)s|%({SERVER_SOFTWARE}e)s|%({PATH_INFO}e)s|%({QUERY_STRING}e)s|"
                + "%({RAW_URI}e)s|%({REMOTE_PORT}e)s|%({wsgi.input}e)s",
                record));
    }

    [Fact]
    public void Render_ServerNameWithoutHost()
    {
        Assert.Equal("127.0.0.1:8000", Render("%({SERVER_NAME}e)s:%({SERVER_PORT}e)s", Record(host: null)));
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz", "user")]
    [InlineData("basic dXNlcjpwYXNz", "user")]
    [InlineData("Basic bm9jb2xvbg==", "-")] // "nocolon"
    [InlineData("Basic !!!", "-")]
    [InlineData("Basic /w==", "-")] // 0xff: not UTF-8, which gunicorn refuses
    [InlineData("Bearer dXNlcjpwYXNz", "-")]
    public void Render_BasicAuthUser(string authorization, string expected)
    {
        Assert.Equal(expected, Render("%(u)s", Record(request: [("Authorization", [authorization])])));
    }

    [Fact]
    public void Json_TrickyValuesRoundTrip()
    {
        // Kestrel reads header bytes as latin-1: "\u00c3\u00a9" is the UTF-8 of "é".
        var record = Record(
            target: "/q%22uote%5Cback%01ctl%C3%A9?x=%22&y=\"",
            request: [("Referer", ["http://r/\"\\"]), ("User-Agent", ["caf\u00c3\u00a9 \t\u0001 \u00e9"])]);

        string line = JsonAccessLog.Render(record);
        using JsonDocument doc = JsonDocument.Parse(line);
        JsonElement root = doc.RootElement;

        Assert.DoesNotContain('\n', line);
        Assert.Equal("/q\"uote\\back\u0001ctl\u00e9", root.GetProperty("path").GetString());
        Assert.Equal("x=%22&y=\"", root.GetProperty("query").GetString());
        Assert.Equal("http://r/\"\\", root.GetProperty("referer").GetString());
        Assert.Equal("caf\u00c3\u00a9 \t\u0001 \u00e9", root.GetProperty("user_agent").GetString()); // not UTF-8 as a whole: kept as read
        Assert.Equal("abc-123", root.GetProperty("request_id").GetString());
        Assert.Equal(200, root.GetProperty("status").GetInt32());
        Assert.Equal(13, root.GetProperty("bytes").GetInt64());
        Assert.Equal(1234.568, root.GetProperty("duration_ms").GetDouble());
        Assert.Equal(42, root.GetProperty("pid").GetInt32());
        Assert.Equal("2026-01-02T03:04:05.0000000+01:00", root.GetProperty("time").GetString());
        Assert.Contains("\u00e9", line, StringComparison.Ordinal); // readable, not \u00e9 escapes
    }

    [Fact]
    public void Json_MissingHeadersAreNull()
    {
        using JsonDocument doc = JsonDocument.Parse(JsonAccessLog.Render(Record()));

        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("referer").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("user_agent").ValueKind);
        Assert.Equal("q=1", doc.RootElement.GetProperty("query").GetString());
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("caf\u00c3\u00a9", "caf\u00e9")]
    [InlineData("\u00e2\u009c\u0093", "\u2713")]
    [InlineData("caf\u00e9", "caf\u00e9")] // a lone 0xE9 byte is not UTF-8: latin-1 it stays
    public void Json_TextReadsUtf8(string latin1, string expected)
    {
        Assert.Equal(expected, JsonAccessLog.Text(latin1));
    }
}
