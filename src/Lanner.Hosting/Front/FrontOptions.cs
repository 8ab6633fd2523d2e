using System.Net;

namespace Lanner.Hosting.Front;

/// <summary>What the front needs of the settings, made by the server.</summary>
public sealed record FrontOptions
{
    public string ScriptName { get; init; } = "";

    /// <summary>--limit-request-field_size (0: no limit).</summary>
    public int LimitRequestFieldSize { get; init; }

    /// <summary>Header name → value meaning HTTPS, from a trusted front end (gunicorn's secure_scheme_headers).</summary>
    public IReadOnlyList<(string Header, string Value)> SecureSchemeHeaders { get; init; } = [];

    /// <summary>--forwarded-allow-ips; "*" trusts everyone.</summary>
    public IReadOnlyList<string> ForwardedAllowIps { get; init; } = ["127.0.0.1"];

    public bool TrustsForwarding(IPAddress? remote)
    {
        if (remote is null)
        {
            return true; // a Unix socket: only local processes reach it
        }

        string address = (remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote).ToString();
        foreach (string allowed in ForwardedAllowIps)
        {
            if (allowed == "*" || allowed == address)
            {
                return true;
            }
        }

        return false;
    }
}
