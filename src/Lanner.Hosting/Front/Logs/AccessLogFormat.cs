using System.Globalization;
using System.Text;

namespace Lanner.Hosting.Front.Logs;

/// <summary>
/// gunicorn's access log format, compiled once: the same atoms with the same meaning
/// (h l u t r m U q H s B b f a T M D L p, {header}i, {header}o, {variable}e), missing values as
/// '-', '"' escaped in string values, and Python's %-conversions (%(s)5s, %(m).3s, %(B)06d, %(U)r,
/// "%%"), so existing formats and log parsers keep working.
/// </summary>
internal sealed class AccessLogFormat
{
    private readonly Part[] _parts;

    private AccessLogFormat(Part[] parts) => _parts = parts;

    /// <summary>A literal, or a placeholder: its atom and Python's conversion spec (flags, width, precision, letter).</summary>
    private readonly record struct Part(string? Literal, string? Atom, Spec Spec);

    private readonly record struct Spec(bool Left, bool Zero, char Sign, bool Alternate, int Width, int Precision, char Conversion);

    /// <summary>
    /// Compiles a format the way Python's %-operator reads it with a mapping: "%%" is a '%',
    /// "%(atom)spec" a placeholder (spec: flags -0 +#, width, .precision, a conversion letter);
    /// anything else, even a placeholder Python would reject, stays literal text.
    /// </summary>
    public static AccessLogFormat Compile(string format)
    {
        var parts = new List<Part>();
        var literal = new StringBuilder();
        int i = 0;
        while (i < format.Length)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length)
            {
                literal.Append(c);
                i++;
                continue;
            }

            if (format[i + 1] == '%')
            {
                literal.Append('%');
                i += 2;
                continue;
            }

            if (format[i + 1] == '(' && TryPlaceholder(format, i, out string atom, out Spec spec, out int end))
            {
                if (literal.Length > 0)
                {
                    parts.Add(new Part(literal.ToString(), null, default));
                    literal.Clear();
                }

                parts.Add(new Part(null, atom, spec));
                i = end;
                continue;
            }

            literal.Append(c);
            i++;
        }

        if (literal.Length > 0)
        {
            parts.Add(new Part(literal.ToString(), null, default));
        }

        return new AccessLogFormat([.. parts]);
    }

    /// <summary>Reads "%(key)spec" at <paramref name="at"/>; the key may hold balanced parentheses, as in Python.</summary>
    private static bool TryPlaceholder(string format, int at, out string atom, out Spec spec, out int end)
    {
        atom = "";
        spec = default;
        end = at;
        int i = at + 2;
        int depth = 1;
        int keyStart = i;
        while (i < format.Length)
        {
            if (format[i] == '(')
            {
                depth++;
            }
            else if (format[i] == ')' && --depth == 0)
            {
                break;
            }

            i++;
        }

        if (i >= format.Length)
        {
            return false;
        }

        atom = format[keyStart..i];
        i++;
        bool left = false, zero = false, alternate = false;
        char sign = '\0';
        for (; i < format.Length; i++)
        {
            switch (format[i])
            {
                case '-': left = true; continue;
                case '0': zero = true; continue;
                case '#': alternate = true; continue;
                case '+': sign = '+'; continue;
                case ' ': sign = sign == '+' ? '+' : ' '; continue;
            }

            break;
        }

        int width = ReadNumber(format, ref i);
        int precision = -1;
        if (i < format.Length && format[i] == '.')
        {
            i++;
            precision = Math.Max(0, ReadNumber(format, ref i));
        }

        while (i < format.Length && format[i] is 'h' or 'l' or 'L')
        {
            i++; // length modifiers, which Python ignores
        }

        if (i >= format.Length || format[i] is not ('s' or 'r' or 'a' or 'd' or 'i' or 'u' or 'f' or 'F' or 'x' or 'X' or 'o'))
        {
            return false;
        }

        spec = new Spec(left, zero, sign, alternate, Math.Max(0, width), precision, format[i]);
        end = i + 1;
        return true;
    }

    private static int ReadNumber(string s, ref int i)
    {
        int start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
        }

        // -1: none; too large for an int: 4096, more than any log line wants.
        return i == start ? -1 : int.TryParse(s.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? Math.Min(n, 4096) : 4096;
    }

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
            if (value is string s)
            {
                // gunicorn's SafeAtoms: '"' escaped in every string value, before formatting.
                value = s.Replace("\"", "\\\"", StringComparison.Ordinal);
            }

            sb.Append(Format(value, part.Spec));
        }

        return sb.ToString();
    }

    /// <summary>One value through Python's %-conversion (str or int values).</summary>
    internal static string Format(object value, string spec)
    {
        string format = "%(x)" + spec;
        return TryPlaceholder(format, 0, out _, out Spec parsed, out int end) && end == format.Length
            ? Format(value, parsed)
            : throw new ArgumentException($"not a conversion spec: {spec}", nameof(spec));
    }

    private static string Format(object value, in Spec spec)
    {
        string text;
        bool numeric = false;
        switch (spec.Conversion)
        {
            case 's':
                text = value is string s ? s : Convert.ToString(value, CultureInfo.InvariantCulture) ?? "-";
                if (spec.Precision >= 0 && spec.Precision < text.Length)
                {
                    text = text[..spec.Precision];
                }

                break;
            case 'r' or 'a':
                text = value is string str ? PythonRepr(str, ascii: spec.Conversion == 'a') : Convert.ToString(value, CultureInfo.InvariantCulture) ?? "-";
                if (spec.Precision >= 0 && spec.Precision < text.Length)
                {
                    text = text[..spec.Precision];
                }

                break;
            default:
                if (!TryNumber(value, out double number, out long integer, out bool isInteger))
                {
                    // Python would refuse (gunicorn then drops the line); the text is more useful.
                    goto case 's';
                }

                numeric = true;
                text = FormatNumber(spec, number, integer, isInteger);
                break;
        }

        if (text.Length >= spec.Width)
        {
            return text;
        }

        if (spec.Left)
        {
            return text.PadRight(spec.Width);
        }

        if (numeric && spec.Zero)
        {
            int signLength = text.Length > 0 && text[0] is '-' or '+' or ' ' ? 1 : 0;
            if (spec.Alternate && spec.Conversion is 'x' or 'X' or 'o')
            {
                signLength += 2;
            }

            return text[..signLength] + new string('0', spec.Width - text.Length) + text[signLength..];
        }

        return text.PadLeft(spec.Width);
    }

    private static bool TryNumber(object value, out double number, out long integer, out bool isInteger)
    {
        number = 0;
        integer = 0;
        isInteger = true;
        switch (value)
        {
            case int i:
                integer = i;
                break;
            case long l:
                integer = l;
                break;
            case string s when long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed):
                integer = parsed;
                break;
            case string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d):
                number = d;
                isInteger = false;
                integer = (long)Math.Truncate(d);
                return true;
            default:
                return false;
        }

        number = integer;
        return true;
    }

    private static string FormatNumber(in Spec spec, double number, long integer, bool isInteger)
    {
        bool negative = isInteger ? integer < 0 : number < 0;
        string digits;
        switch (spec.Conversion)
        {
            case 'f' or 'F':
                digits = Math.Abs(number).ToString("F" + (spec.Precision < 0 ? 6 : spec.Precision).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
                if (spec.Alternate && spec.Precision == 0)
                {
                    digits += ".";
                }

                break;
            default:
                ulong magnitude = integer < 0 ? (ulong)(-(integer + 1)) + 1 : (ulong)integer;
                digits = spec.Conversion switch
                {
                    'x' => magnitude.ToString("x", CultureInfo.InvariantCulture),
                    'X' => magnitude.ToString("X", CultureInfo.InvariantCulture),
                    'o' => Convert.ToString((long)magnitude, 8),
                    _ => magnitude.ToString(CultureInfo.InvariantCulture),
                };
                if (spec.Precision > digits.Length)
                {
                    digits = new string('0', spec.Precision - digits.Length) + digits;
                }

                if (spec.Alternate)
                {
                    digits = spec.Conversion switch { 'x' => "0x", 'X' => "0X", 'o' => "0o", _ => "" } + digits;
                }

                break;
        }

        return (negative ? "-" : spec.Sign == '\0' ? "" : spec.Sign.ToString()) + digits;
    }

    /// <summary>Python's repr() of a str (ascii(): non-ASCII escaped too).</summary>
    internal static string PythonRepr(string s, bool ascii = false)
    {
        char quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        foreach (char c in s)
        {
            if (c == quote || c == '\\')
            {
                sb.Append('\\').Append(c);
            }
            else if (c == '\t')
            {
                sb.Append("\\t");
            }
            else if (c == '\n')
            {
                sb.Append("\\n");
            }
            else if (c == '\r')
            {
                sb.Append("\\r");
            }
            else if (c < ' ' || c == '\x7f' || (c > '\x7f' && (ascii || !IsPrintable(c))))
            {
                sb.Append(c <= '\xff' ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.Append(quote).ToString();
    }

    /// <summary>str.isprintable() for one character: not a control, format, separator (but ' '), surrogate or unassigned one.</summary>
    private static bool IsPrintable(char c) => CharUnicodeInfo.GetUnicodeCategory(c) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => false,
        UnicodeCategory.SpaceSeparator => c == ' ',
        _ => true,
    };

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
            case "s": return r.Status.ToString(CultureInfo.InvariantCulture); // a str in gunicorn too
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
        !headers.TryGetValue(name, out var values) || values.Count == 0 ? "-"
            : values.Count == 1 ? values[0] ?? "" : string.Join(",", values.ToArray());

    /// <summary>
    /// The WSGI environ variables ({variable}e, case-insensitive) as the app saw them: the ones the
    /// master wrote (EnvironWriter) and SERVER_SOFTWARE; the worker's own (wsgi.input, …) and
    /// whatever the app added live in the worker, so they are '-'.
    /// </summary>
    private static string Environ(in AccessRecord r, string name)
    {
        RequestFacts f = r.Facts;
        string upper = name.ToUpperInvariant();
        switch (upper)
        {
            case "REQUEST_METHOD": return f.Method;
            case "PATH_INFO": return PathInfo(f);
            case "QUERY_STRING": return Query(f);
            case "RAW_URI" or "REQUEST_URI": return f.RawTarget;
            case "SERVER_PROTOCOL": return f.Protocol;
            case "REMOTE_ADDR": return f.RemoteAddr;
            case "REMOTE_PORT": return f.RemotePort ?? "-";
            case "SCRIPT_NAME": return f.ScriptName;
            case "WSGI.URL_SCHEME": return f.Scheme;
            case "SERVER_SOFTWARE": return "lanner"; // python/lanner/worker/wsgi.py
            case "SERVER_NAME" or "SERVER_PORT":
                EnvironWriter.SplitHost(f, out string serverName, out string serverPort);
                return upper == "SERVER_NAME" ? serverName : serverPort;
            case "CONTENT_TYPE": return EnvironHeader(r.RequestHeaders, "Content-Type");
            case "CONTENT_LENGTH": return EnvironHeader(r.RequestHeaders, "Content-Length");
            case "HTTP_CONTENT_TYPE" or "HTTP_CONTENT_LENGTH": return "-"; // CONTENT_TYPE, CONTENT_LENGTH
        }

        return upper.StartsWith("HTTP_", StringComparison.Ordinal) ? EnvironHeader(r.RequestHeaders, upper[5..].Replace('_', '-')) : "-";
    }

    /// <summary>A request header's environ value: repeated fields joined as EnvironWriter joins them.</summary>
    private static string EnvironHeader(Microsoft.AspNetCore.Http.IHeaderDictionary headers, string name) =>
        headers.TryGetValue(name, out var values) && values.Count > 0 ? EnvironWriter.HeaderValue(name, values) : "-";

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

    /// <summary>The last %(t) made: under load most lines fall in the same second as the one before.</summary>
    private sealed record ClfStamp(long Second, TimeSpan Offset, string Text);

    private static ClfStamp? s_lastClf;

    internal static string ClfTime(DateTimeOffset time)
    {
        long second = time.UtcTicks / TimeSpan.TicksPerSecond;
        if (s_lastClf is { } last && last.Second == second && last.Offset == time.Offset)
        {
            return last.Text;
        }

        string offset = (time.Offset < TimeSpan.Zero ? "-" : "+") + time.Offset.ToString("hhmm", CultureInfo.InvariantCulture);
        string text = "[" + time.ToString("dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture) + " " + offset + "]";
        s_lastClf = new ClfStamp(second, time.Offset, text);
        return text;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

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
            string decoded = StrictUtf8.GetString(Convert.FromBase64String(parts[1].Trim()));
            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon >= 0 ? decoded[..colon] : null;
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            return null; // gunicorn: not base64, or not UTF-8
        }
    }
}
