using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Lanner.Hosting.Front;

/// <summary>
/// What the environ says of the client's certificate (--cert-reqs), with the names nginx and
/// mod_ssl give it: SSL_CLIENT_VERIFY ("SUCCESS", or "NONE" without a certificate: one that fails
/// the check never gets past the handshake), and the certificate's subject, issuer, serial number
/// and PEM text.
/// </summary>
internal sealed record ClientCertificate(string Verify, string? SubjectDn = null, string? IssuerDn = null, string? Serial = null, string? Pem = null)
{
    private static readonly ClientCertificate Absent = new("NONE");

    /// <summary>The request's connection's certificate, described once per connection.</summary>
    public static ClientCertificate Of(HttpContext context)
    {
        if (context.Connection.ClientCertificate is not { } certificate)
        {
            return Absent;
        }

        IDictionary<object, object?>? items = context.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is not null && items.TryGetValue(typeof(ClientCertificate), out object? known) && known is ClientCertificate cached)
        {
            return cached;
        }

        var described = new ClientCertificate("SUCCESS", Rfc2253(certificate.SubjectName), Rfc2253(certificate.IssuerName), certificate.SerialNumber,
            certificate.ExportCertificatePem());
        if (items is not null)
        {
            items[typeof(ClientCertificate)] = described;
        }

        return described;
    }

    /// <summary>
    /// A distinguished name as nginx and mod_ssl print it (RFC 2253): the last RDN first, joined by
    /// commas without spaces, with the specification's escapes, e.g. "CN=alice,O=Example".
    /// </summary>
    internal static string Rfc2253(X500DistinguishedName name)
    {
        var parts = new List<string>();
        foreach (X500RelativeDistinguishedName rdn in name.EnumerateRelativeDistinguishedNames(reversed: true))
        {
            if (rdn.HasMultipleElements)
            {
                return name.Decode(X500DistinguishedNameFlags.Reversed | X500DistinguishedNameFlags.UseCommas); // rare: .NET's own rendering
            }

            System.Security.Cryptography.Oid type = rdn.GetSingleElementType();
            string key = type.Value switch
            {
                "2.5.4.3" => "CN",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.6" => "C",
                "2.5.4.9" => "STREET",
                "0.9.2342.19200300.100.1.25" => "DC",
                "0.9.2342.19200300.100.1.1" => "UID",
                "1.2.840.113549.1.9.1" => "emailAddress",
                _ => type.Value ?? "?",
            };
            parts.Add(key + "=" + Escape(rdn.GetSingleElementValue() ?? ""));
        }

        return string.Join(',', parts);
    }

    private static string Escape(string value)
    {
        var text = new System.Text.StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            bool special = c is ',' or '+' or '"' or '\\' or '<' or '>' or ';' || (i == 0 && c is '#' or ' ') || (i == value.Length - 1 && c == ' ');
            text.Append(special ? "\\" + c : c.ToString());
        }

        return text.ToString();
    }

    /// <summary>
    /// The handshake's check of a client certificate: against the system's trusted CAs, or, with
    /// --ca-certs, against those alone (with the intermediates the client sent).
    /// </summary>
    public static Func<X509Certificate2, X509Chain?, SslPolicyErrors, bool> Validator(X509Certificate2Collection? authorities) =>
        authorities is null
            ? (_, _, errors) => errors == SslPolicyErrors.None
            : (certificate, sent, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // TLS client authentication
                if (sent is not null)
                {
                    foreach (X509ChainElement element in sent.ChainElements)
                    {
                        chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                    }
                }

                return chain.Build(certificate);
            };
}
