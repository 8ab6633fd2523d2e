using Lanner.Hosting.Front;

namespace Lanner.Hosting.Tests.Front;

public class ResponseHeadValidatorTests
{
    [Theory]
    [InlineData("200 OK", 200, "OK")]
    [InlineData("404 Not Found", 404, "Not Found")]
    [InlineData("299 Custom Reason", 299, "Custom Reason")]
    [InlineData("204", 204, "")]
    public void TryParseStatus_Valid(string status, int code, string reason)
    {
        Assert.True(ResponseHeadValidator.TryParseStatus(status, out int c, out string r, out _));
        Assert.Equal(code, c);
        Assert.Equal(reason, r);
    }

    [Theory]
    [InlineData("")]
    [InlineData("OK")]
    [InlineData("20 OK")]
    [InlineData("2000 OK")]
    [InlineData("099 Too Low")]
    [InlineData("100 Continue")]
    [InlineData("101 Switching Protocols")]
    [InlineData("103 Early Hints")]
    [InlineData("200OK")]
    [InlineData("200 OK\r\nX-Injected: 1")]
    [InlineData("200 O\u0100K")]
    public void TryParseStatus_Invalid(string status)
    {
        Assert.False(ResponseHeadValidator.TryParseStatus(status, out _, out _, out string? problem));
        Assert.StartsWith("invalid status", problem);
    }

    [Theory]
    [InlineData("Content-Type", true)]
    [InlineData("X-Custom_Thing", true)]
    [InlineData("", false)]
    [InlineData("Bad Name", false)]
    [InlineData("Bad:Name", false)]
    [InlineData("X-\u00e9", false)]
    public void IsValidName(string name, bool valid) => Assert.Equal(valid, ResponseHeadValidator.IsValidName(name));

    [Theory]
    [InlineData("text/plain", true, "text/plain")]
    [InlineData("  padded\t", true, "padded")]
    [InlineData("Jos\u00e9", true, "Jos\u00e9")]
    [InlineData("a\r\nSet-Cookie: x=1", false, null)]
    [InlineData("a\nb", false, null)]
    [InlineData("nul\0", false, null)]
    [InlineData("\u20ac", false, null)]
    public void TryNormalizeValue(string value, bool valid, string? normalized)
    {
        Assert.Equal(valid, ResponseHeadValidator.TryNormalizeValue(value, out string result));
        if (valid)
        {
            Assert.Equal(normalized, result);
        }
    }
}
