using System.Security.Cryptography.X509Certificates;

namespace Lanner.Hosting.Server;

/// <summary>
/// The TLS files the settings name, loaded as the server loads them when it starts; `lanner check`
/// loads them the same way, so that it finds what would stop the server.
/// </summary>
internal static class TlsFiles
{
    /// <summary>
    /// Loads the certificate (with its key) and the CAs of --ca-certs; returns what stops the start,
    /// in one line, or null. Without --certfile, both are null.
    /// </summary>
    public static string? Load(ListenOptions listen, out X509Certificate2? certificate, out X509Certificate2Collection? authorities)
    {
        certificate = null;
        authorities = null;
        if (listen.CertFile is null && TlsWithoutCertificate(listen) is { } orphan)
        {
            return $"{orphan} needs --certfile: without it Lanner serves plain HTTP.";
        }

        try
        {
            authorities = LoadAuthorities(listen);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            return $"cannot load the CA certificates of --ca-certs {listen.CaCerts}: {ex.Message}";
        }

        try
        {
            certificate = LoadCertificate(listen);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            string key = listen.KeyFile is { } keyFile ? $"with key {keyFile}" : "(no --keyfile: its private key is looked for in the same file)";
            return $"cannot load the TLS certificate {listen.CertFile} {key}: {ex.Message}";
        }

        return null;
    }

    /// <summary>The TLS setting given without --certfile, if any.</summary>
    private static string? TlsWithoutCertificate(ListenOptions listen) =>
        listen.KeyFile is not null ? "--keyfile"
        : listen.CertReqs > 0 ? "--cert-reqs"
        : listen.CaCerts is not null ? "--ca-certs"
        : null;

    /// <summary>The CAs of --ca-certs; null without it. Throws when the file cannot be read or holds no PEM certificate.</summary>
    private static X509Certificate2Collection? LoadAuthorities(ListenOptions listen)
    {
        if (listen.CaCerts is null)
        {
            return null;
        }

        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(listen.CaCerts);
        return authorities.Count > 0 ? authorities : throw new System.Security.Cryptography.CryptographicException("the file holds no PEM certificate");
    }

    /// <summary>The certificate of --certfile with the key of --keyfile (or of the same file); null without --certfile.</summary>
    private static X509Certificate2? LoadCertificate(ListenOptions listen)
    {
        if (listen.CertFile is null)
        {
            return null;
        }

        return X509Certificate2.CreateFromPemFile(listen.CertFile, listen.KeyFile ?? listen.CertFile);
    }
}
