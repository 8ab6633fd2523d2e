using System.Globalization;

namespace Lanner.Settings;

/// <summary>
/// One --bind value: <c>HOST:PORT</c>, <c>[IPv6]:PORT</c>, <c>HOST</c> (port 8000, as gunicorn),
/// or <c>unix:PATH</c>. Port 0 asks the kernel for a free port.
/// </summary>
public sealed record BindAddress(string? Host, int Port, string? UnixPath)
{
    public bool IsUnix => UnixPath is not null;

    public static BindAddress Parse(string raw)
    {
        string text = raw.Trim();
        if (text.Length == 0)
        {
            throw new FormatException();
        }

        if (text.StartsWith("unix:", StringComparison.Ordinal))
        {
            string path = text["unix:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
            {
                path = path[2..];
            }

            if (path.Length == 0)
            {
                throw new SettingException($"--bind: invalid value '{raw}' (unix: needs a socket path)");
            }

            return new BindAddress(null, 0, path);
        }

        if (text.StartsWith("fd://", StringComparison.Ordinal))
        {
            throw new SettingException($"--bind: invalid value '{raw}' (binding to an inherited file descriptor is not supported; use HOST:PORT or unix:PATH)");
        }

        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new SettingException($"--bind: invalid value '{raw}' (unclosed '[' in an IPv6 address)");
            }

            host = text[1..close];
            string rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':'))
                {
                    throw new FormatException();
                }

                portText = rest[1..];
            }
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                throw new SettingException($"--bind: invalid value '{raw}' (write an IPv6 address in brackets: [::1]:8000)");
            }

            host = colon >= 0 ? text[..colon] : text;
            portText = colon >= 0 ? text[(colon + 1)..] : null;
            if (colon < 0 && host.All(char.IsAsciiDigit))
            {
                // A bare number would be read as a host name (and fail to bind): it is a port.
                throw new SettingException($"--bind: invalid value '{raw}' (a value without ':' is a host; for port {host} write 127.0.0.1:{host}, or :{host} for every interface)");
            }
        }

        if (host.Length == 0)
        {
            host = "0.0.0.0";
        }

        int port = 8000;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            throw new SettingException($"--bind: invalid value '{raw}' (the port must be a number from 0 to 65535)");
        }

        return new BindAddress(host, port, null);
    }

    public override string ToString() =>
        IsUnix ? "unix:" + UnixPath
        : Host!.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}"
        : $"{Host}:{Port}";
}
