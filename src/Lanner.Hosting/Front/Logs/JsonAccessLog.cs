using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Lanner.Hosting.Front.Logs;

/// <summary>--access-logformat json: one JSON object per line, escaped by System.Text.Json.</summary>
internal static class JsonAccessLog
{
    public static string Render(in AccessRecord r)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            RequestFacts f = r.Facts;
            json.WriteStartObject();
            json.WriteString("time", r.Time.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("remote_addr", f.RemoteAddr);
            json.WriteString("method", f.Method);
            json.WriteString("path", (string)AccessLogFormat.Atom("U", r));
            json.WriteString("query", (string)AccessLogFormat.Atom("q", r));
            json.WriteString("protocol", f.Protocol);
            json.WriteNumber("status", r.Status);
            json.WriteNumber("bytes", r.BytesSent);
            json.WriteNumber("duration_ms", Math.Round(r.Duration.TotalMilliseconds, 3));
            json.WriteString("referer", (string)AccessLogFormat.Atom("f", r));
            json.WriteString("user_agent", (string)AccessLogFormat.Atom("a", r));
            json.WriteString("request_id", r.RequestId);
            json.WriteNumber("pid", r.Pid);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
