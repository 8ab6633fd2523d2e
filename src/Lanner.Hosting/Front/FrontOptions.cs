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

    /// <summary>--forwarded-allow-ips.</summary>
    public AllowList ForwardedAllowIps { get; init; } = new(["127.0.0.1"]);

    /// <summary>--proxy-protocol: connections may start with a PROXY header, whose details the environ carries.</summary>
    public bool ProxyProtocol { get; init; }

    /// <summary>False with --keep-alive 0: every HTTP/1 response closes its connection.</summary>
    public bool KeepAlive { get; init; } = true;

    /// <summary>--cert-reqs 1 or 2: the environ describes the client's certificate.</summary>
    public bool ClientCertificates { get; init; }

    public bool TrustsForwarding(IPAddress? remote) => ForwardedAllowIps.Allows(remote);
}

/// <summary>
/// gunicorn's lists of trusted front ends (--forwarded-allow-ips, --proxy-allow-from): addresses,
/// networks such as 10.0.0.0/8, or "*" for everyone. The settings have checked each entry.
/// </summary>
public sealed class AllowList
{
    private readonly bool everyone;

    private readonly IPNetwork[] networks;

    public AllowList(IEnumerable<string> entries)
    {
        var list = new List<IPNetwork>();
        foreach (string entry in entries)
        {
            if (entry == "*")
            {
                everyone = true;
            }
            else if (IPAddress.TryParse(entry, out IPAddress? address))
            {
                list.Add(new IPNetwork(address, address.GetAddressBytes().Length * 8));
            }
            else
            {
                list.Add(IPNetwork.Parse(entry));
            }
        }

        networks = [.. list];
    }

    /// <summary>Whether <paramref name="remote"/> is listed; a Unix socket peer (null) is always trusted.</summary>
    public bool Allows(IPAddress? remote)
    {
        if (remote is null || everyone)
        {
            return true; // null: a Unix socket, which only local processes reach
        }

        IPAddress address = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
        foreach (IPNetwork network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
