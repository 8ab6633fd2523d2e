using System.Buffers;
using System.Globalization;

namespace Lanner.Hosting.Front;

/// <summary>
/// Checks what an app gave to start_response before any of it reaches the client: a status
/// "NNN reason", header names that are HTTP tokens, values without line breaks or control
/// characters and within latin-1. An app can never produce a malformed or split response.
/// </summary>
internal static class ResponseHeadValidator
{
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    public static bool TryParseStatus(string status, out int code, out string reason, out string? problem)
    {
        code = 0;
        reason = "";
        if (status.Length < 3 || !int.TryParse(status.AsSpan(0, 3), NumberStyles.None, CultureInfo.InvariantCulture, out code)
            || code < 100 || (status.Length > 3 && status[3] != ' '))
        {
            problem = $"invalid status '{Printable(status)}': expected a 3-digit code from 100, then a space and a reason";
            return false;
        }

        if (code < 200)
        {
            // 1xx responses are interim: the client would wait for a final one that never comes.
            problem = $"invalid status '{Printable(status)}': a 1xx status is informational, not a final response";
            return false;
        }

        reason = status.Length > 4 ? status[4..] : "";
        foreach (char c in reason)
        {
            if ((c < 0x20 && c != '\t') || c == 0x7f || c > 0xff)
            {
                problem = $"invalid status '{Printable(status)}': the reason contains a control or non-latin-1 character";
                return false;
            }
        }

        problem = null;
        return true;
    }

    public static bool IsValidName(string name) => name.Length > 0 && !name.AsSpan().ContainsAnyExcept(TokenChars);

    /// <summary>Checks a value; on success returns it with surrounding spaces and tabs trimmed.</summary>
    public static bool TryNormalizeValue(string value, out string normalized)
    {
        foreach (char c in value)
        {
            if ((c < 0x20 && c != '\t') || c == 0x7f || c > 0xff)
            {
                normalized = value;
                return false;
            }
        }

        normalized = value.Trim(' ', '\t');
        return true;
    }

    /// <summary>Shows a value in a log line with control characters escaped.</summary>
    public static string Printable(string value)
    {
        var sb = new System.Text.StringBuilder(value.Length);
        foreach (char c in value.Length > 200 ? value[..200] : value)
        {
            if (c < 0x20 || c == 0x7f)
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
