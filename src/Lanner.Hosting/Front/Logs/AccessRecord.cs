using Microsoft.AspNetCore.Http;

namespace Lanner.Hosting.Front.Logs;

/// <summary>What the access log knows of one finished request.</summary>
internal readonly record struct AccessRecord(
    RequestFacts Facts,
    IHeaderDictionary RequestHeaders,
    IHeaderDictionary ResponseHeaders,
    int Status,
    long BytesSent,
    TimeSpan Duration,
    DateTimeOffset Time,
    int Pid,
    string RequestId);
