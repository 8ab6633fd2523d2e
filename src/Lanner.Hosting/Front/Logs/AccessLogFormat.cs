using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lanner.Hosting.Front.Logs;

/// <summary>
/// gunicorn's access log format, compiled once: the same atoms with the same meaning
/// (h l u t r m U q H s B b f a T M D L p, {header}i, {header}o, {variable}e), missing values as
/// '-', and '"' escaped in string values, so existing log parsers keep working.
/// </summary>
internal sealed partial class AccessLogFormat
{
    private readonly Part[] _parts;

    private AccessLogFormat(Part[] parts) => _parts = parts;

    private readonly record struct Part(string? Literal, string? Atom, string Spec);

    public static AccessLogFormat Compile(string format)
    {
        var parts = new List<Part>();
        int last = 0;
        foreach (Match m in Placeholder().Matches(format))
        {
            if (m.Index > last)
            {
                parts.Add(new Part(Unescape(format[last..m.Index]), null, ""));
            }

            parts.Add(new Part(null, m.Groups["atom"].Value, m.Groups["spec"].Value));
            last = m.Index + m.Length;
        }

        if (last < format.Length)
        {
            parts.Add(new Part(Unescape(format[last..]), null, ""));
        }

        return new AccessLogFormat([.. parts]);
    }

    private static string Unescape(string literal) => literal.Replace("%%", "%", StringComparison.Ordinal);

    public string Render(in AccessRecord r)
    {
        var sb = new StringBuilder(256);
        foreach (Part part in _parts)
        {
            if (part.Literal is not null)
            {
                sb.Append(part.Literal);
                continue;
            }

            object value = Atom(part.Atom!, r);
            string text = value switch
            {
                string s => s.Replace("\"", "\\\"", StringComparison.Ordinal),
                long l => l.ToString(CultureInfo.InvariantCulture),
                int i => i.ToString(CultureInfo.InvariantCulture),
                _ => value.ToString() ?? "-",
            };
            sb.Append(Pad(text, part.Spec));
        }

        return sb.ToString();
    }

    /// <summary>The value of one atom, as gunicorn computes it.</summary>
    internal static object Atom(string atom, in AccessRecord r)
    {
        RequestFacts f = r.Facts;
        switch (atom)
        {
            case "h": return f.RemoteAddr.Length == 0 ? "-" : f.RemoteAddr;
            case "l": return "-";
            case "u": return BasicAuthUser(r.RequestHeaders) ?? "-";
            case "t": return ClfTime(r.Time);
            case "r": return $"{f.Method} {f.RawTarget} {f.Protocol}";
            case "s": return r.Status;
            case "m": return f.Method;
            case "U": return PathInfo(f);
            case "q": return Query(f);
            case "H": return f.Protocol;
            case "b": return r.BytesSent.ToString(CultureInfo.InvariantCulture);
            case "B": return r.BytesSent;
            case "f": return Header(r.RequestHeaders, "Referer");
            case "a": return Header(r.RequestHeaders, "User-Agent");
            case "T": return (long)r.Duration.TotalSeconds;
            case "D": return (long)(r.Duration.Ticks / (TimeSpan.TicksPerMillisecond / 1000));
            case "M": return (long)r.Duration.TotalMilliseconds;
            case "L": return ((long)r.Duration.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "."
                + (r.Duration.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture);
            case "p": return $"<{r.Pid}>";
        }

        if (atom.Length > 3 && atom[0] == '{' && atom[^2] == '}')
        {
            string name = atom[1..^2];
            return atom[^1] switch
            {
                'i' => Header(r.RequestHeaders, name),
                'o' => Header(r.ResponseHeaders, name),
                'e' => Environ(r, name),
                _ => "-",
            };
        }

        return "-";
    }

    private static string Header(Microsoft.AspNetCore.Http.IHeaderDictionary headers, string name) =>
        headers.TryGetValue(name, out var values) && values.Count > 0 ? string.Join(",", values.ToArray()) : "-";

    /// <summary>The WSGI environ variables the master wrote ({variable}e, case-insensitive).</summary>
    private static string Environ(in AccessRecord r, string name)
    {
        RequestFacts f = r.Facts;
        string upper = name.ToUpperInvariant();
        return upper switch
        {
            "REQUEST_METHOD" => f.Method,
            "PATH_INFO" => PathInfo(f),
            "QUERY_STRING" => Query(f),
            "RAW_URI" or "REQUEST_URI" => f.RawTarget,
            "SERVER_PROTOCOL" => f.Protocol,
            "REMOTE_ADDR" => f.RemoteAddr,
            "REMOTE_PORT" => f.RemotePort ?? "-",
            "SCRIPT_NAME" => f.ScriptName,
            "WSGI.URL_SCHEME" => f.Scheme,
            "CONTENT_TYPE" => Header(r.RequestHeaders, "Content-Type"),
            "CONTENT_LENGTH" => Header(r.RequestHeaders, "Content-Length"),
            _ when upper.StartsWith("HTTP_", StringComparison.Ordinal) => Header(r.RequestHeaders, upper[5..].Replace('_', '-')),
            _ => "-",
        };
    }

    private static string PathInfo(in RequestFacts f)
    {
        EnvironWriter.SplitTarget(f.RawTarget, out ReadOnlySpan<char> path, out _);
        return EnvironWriter.DecodePath(path, f.ScriptName);
    }

    private static string Query(in RequestFacts f)
    {
        EnvironWriter.SplitTarget(f.RawTarget, out _, out ReadOnlySpan<char> query);
        return query.ToString();
    }

    internal static string ClfTime(DateTimeOffset time)
    {
        string offset = (time.Offset < TimeSpan.Zero ? "-" : "+") + time.Offset.ToString("hhmm", CultureInfo.InvariantCulture);
        return "[" + time.ToString("dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture) + " " + offset + "]";
    }

    private static string? BasicAuthUser(Microsoft.AspNetCore.Http.IHeaderDictionary headers)
    {
        string? auth = headers.Authorization;
        if (auth is null || !auth.StartsWith("basic", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string[] parts = auth.Split(' ', 2);
        if (parts.Length != 2)
        {
            return null;
        }

        try
        {
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parts[1].Trim()));
            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon >= 0 ? decoded[..colon] : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Python's %-format width and '-' flag (e.g. %(s)5s), for the formats people write.</summary>
    private static string Pad(string text, string spec)
    {
        if (spec.Length <= 1)
        {
            return text;
        }

        bool left = spec.Contains('-', StringComparison.Ordinal);
        string digits = new([.. spec.Where(char.IsAsciiDigit)]);
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int width)
            ? (left ? text.PadRight(width) : text.PadLeft(width))
            : text;
    }

    // %(atom)spec where spec is flags, width and a conversion letter.
    [GeneratedRegex(@"%\((?<atom>[^)]*)\)(?<spec>[-#0 +]*\d*(?:\.\d+)?[sdirf])")]
    private static partial Regex Placeholder();
}
