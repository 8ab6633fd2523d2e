using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lanner.Hosting.Front.Logs;

/// <summary>
/// --access-logformat json: one JSON object per line, escaped by System.Text.Json. Text fields
/// hold what the client sent: the percent-decoded path and the header values read as UTF-8 when
/// they are valid UTF-8 (the WSGI and gunicorn-format values read them as latin-1); a header the
/// request does not have is null.
/// </summary>
internal static class JsonAccessLog
{
    // Escapes what JSON requires (quotes, backslashes, control characters), not HTML-sensitive or
    // non-ASCII characters: the line is read by log tools, never embedded in a page.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    public static string Render(in AccessRecord r)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            RequestFacts f = r.Facts;
            json.WriteStartObject();
            json.WriteString("time", r.Time.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("remote_addr", f.RemoteAddr);
            json.WriteString("method", f.Method);
            json.WriteString("path", Text((string)AccessLogFormat.Atom("U", r)));
            json.WriteString("query", Text((string)AccessLogFormat.Atom("q", r)));
            json.WriteString("protocol", f.Protocol);
            json.WriteNumber("status", r.Status);
            json.WriteNumber("bytes", r.BytesSent);
            json.WriteNumber("duration_ms", Math.Round(r.Duration.TotalMilliseconds, 3));
            WriteHeader(json, "referer", r, "Referer");
            WriteHeader(json, "user_agent", r, "User-Agent");
            json.WriteString("request_id", r.RequestId);
            json.WriteNumber("pid", r.Pid);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A request header's value, or null when the request has none (not the text formats' '-').</summary>
    private static void WriteHeader(Utf8JsonWriter json, string property, in AccessRecord r, string header)
    {
        if (r.RequestHeaders.TryGetValue(header, out var values) && values.Count > 0)
        {
            json.WriteString(property, Text(string.Join(",", values.ToArray())));
        }
        else
        {
            json.WriteNull(property);
        }
    }

    /// <summary>A latin-1 string (one char per byte) read as UTF-8 when its bytes are valid UTF-8; else as it is.</summary>
    internal static string Text(string latin1)
    {
        bool ascii = true;
        foreach (char c in latin1)
        {
            if (c > '\u00ff')
            {
                return latin1;
            }

            ascii &= c < '\u0080';
        }

        if (ascii)
        {
            return latin1;
        }

        try
        {
            return StrictUtf8.GetString(Encoding.Latin1.GetBytes(latin1));
        }
        catch (DecoderFallbackException)
        {
            return latin1;
        }
    }
}
