using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Front;

/// <summary>Log lines of the front, event ids 2000–2099.</summary>
internal static partial class FrontLog
{
    [LoggerMessage(2000, LogLevel.Error, "Invalid response from the app for {RequestLine}: {Problem}; answered 500")]
    public static partial void InvalidResponse(ILogger logger, string requestLine, string problem);

    [LoggerMessage(EventId = 2001, Message = "{RequestLine}: answered {Status} ({Reason}{Detail})")]
    public static partial void Failed(ILogger logger, LogLevel level, string requestLine, int status, string reason, string detail);

    [LoggerMessage(2002, LogLevel.Error, "{RequestLine}: the response failed after it started ({Reason}); the connection was closed")]
    public static partial void FailedAfterStart(ILogger logger, string requestLine, string reason);

    [LoggerMessage(2003, LogLevel.Warning, "{RequestLine}: the app sent more bytes than its Content-Length; the connection was closed")]
    public static partial void ContentLengthExceeded(ILogger logger, string requestLine);

    [LoggerMessage(2004, LogLevel.Warning, "{RequestLine}: the app sent {Sent} of the {Declared} bytes its Content-Length announced; the connection was closed")]
    public static partial void ContentLengthShort(ILogger logger, string requestLine, long sent, long declared);

    [LoggerMessage(2005, LogLevel.Debug, "{RequestLine}: bad request body ({Reason}); answered {Status}")]
    public static partial void BadRequestBody(ILogger logger, string requestLine, string reason, int status);

    [LoggerMessage(2006, LogLevel.Error, "A request Kestrel refused could not be logged or counted: {Error}")]
    public static partial void RejectedNotRecorded(ILogger logger, string error);

    [LoggerMessage(2007, LogLevel.Warning, "Refused a PROXY protocol header from {Peer}: the address is not in --proxy-allow-from; {Outcome}")]
    public static partial void ProxyHeaderRefused(ILogger logger, string peer, string outcome);

    [LoggerMessage(2008, LogLevel.Warning, "Invalid PROXY protocol header from {Peer}: {Problem}; {Outcome}")]
    public static partial void ProxyHeaderInvalid(ILogger logger, string peer, string problem, string outcome);
}
