using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Lanner.Protocol;
using Lanner.Protocol.Marshal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Lanner.Hosting.Front;

/// <summary>What the environ needs to know of the request, independent of Kestrel's types.</summary>
internal readonly record struct RequestFacts(
    string Method,
    string RawTarget,
    string Protocol,
    string Scheme,
    string? Host,
    string LocalName,
    string LocalPort,
    string RemoteAddr,
    string? RemotePort,
    string ScriptName,
    ProxyHeader? Proxy = null,
    ClientCertificate? Client = null,
    bool SchemeHeadersDisagree = false);

/// <summary>
/// Writes the WSGI environ of a request as one marshal dict (PEP 3333 names and types), so the
/// worker gets it with a single <c>marshal.loads</c>. Constant keys (<c>wsgi.version</c>, …) are
/// merged on the Python side. Rules: PATH_INFO is the percent-decoded raw path read as latin-1;
/// QUERY_STRING is raw; CONTENT_TYPE/CONTENT_LENGTH have no HTTP_ prefix; repeated headers are
/// joined with ", " ("; " for Cookie); header names containing "_" are dropped, since they would
/// be indistinguishable from "-" ones (a spoofing hole).
/// </summary>
internal static class EnvironWriter
{
    private const int MaxCachedHeaderKeys = 512;

    private static readonly ConcurrentDictionary<string, byte[]> HeaderKeys = new(StringComparer.Ordinal);

    private static readonly byte[] KeyRequestMethod = Key("REQUEST_METHOD");
    private static readonly byte[] KeyPathInfo = Key("PATH_INFO");
    private static readonly byte[] KeyQueryString = Key("QUERY_STRING");
    private static readonly byte[] KeyRawUri = Key("RAW_URI");
    private static readonly byte[] KeyRequestUri = Key("REQUEST_URI");
    private static readonly byte[] KeyServerProtocol = Key("SERVER_PROTOCOL");
    private static readonly byte[] KeyServerName = Key("SERVER_NAME");
    private static readonly byte[] KeyServerPort = Key("SERVER_PORT");
    private static readonly byte[] KeyRemoteAddr = Key("REMOTE_ADDR");
    private static readonly byte[] KeyRemotePort = Key("REMOTE_PORT");
    private static readonly byte[] KeyUrlScheme = Key("wsgi.url_scheme");
    private static readonly byte[] KeyContentType = Key("CONTENT_TYPE");
    private static readonly byte[] KeyContentLength = Key("CONTENT_LENGTH");
    private static readonly byte[] KeyScriptName = Key("SCRIPT_NAME");
    private static readonly byte[] KeyProxyProtocol = Key("PROXY_PROTOCOL");
    private static readonly byte[] KeyProxyAddr = Key("PROXY_ADDR");
    private static readonly byte[] KeyProxyPort = Key("PROXY_PORT");
    private static readonly byte[] KeyClientVerify = Key("SSL_CLIENT_VERIFY");
    private static readonly byte[] KeyClientSubject = Key("SSL_CLIENT_S_DN");
    private static readonly byte[] KeyClientIssuer = Key("SSL_CLIENT_I_DN");
    private static readonly byte[] KeyClientSerial = Key("SSL_CLIENT_M_SERIAL");
    private static readonly byte[] KeyClientCert = Key("SSL_CLIENT_CERT");

    /// <summary>
    /// Writes the u32 head length and the environ dict; the caller appends inline body bytes.
    /// False when a header field is longer than <paramref name="fieldLimit"/> (0: no limit).
    /// </summary>
    public static bool Write(ByteBuffer buffer, in RequestFacts facts, IHeaderDictionary headers, int fieldLimit = 0)
    {
        int lengthAt = buffer.Reserve(4);
        int start = buffer.Length;
        MarshalWriter.DictStart(buffer);

        buffer.Write(KeyRequestMethod);
        MarshalWriter.String(buffer, facts.Method);

        SplitTarget(facts.RawTarget, out ReadOnlySpan<char> path, out ReadOnlySpan<char> query);
        buffer.Write(KeyPathInfo);
        WritePathInfo(buffer, path, facts.ScriptName);
        if (facts.ScriptName.Length > 0)
        {
            buffer.Write(KeyScriptName);
            MarshalWriter.String(buffer, facts.ScriptName);
        }

        buffer.Write(KeyQueryString);
        MarshalWriter.Latin1String(buffer, query.ToString());
        buffer.Write(KeyRawUri);
        MarshalWriter.Latin1String(buffer, facts.RawTarget);
        buffer.Write(KeyRequestUri);
        MarshalWriter.Latin1String(buffer, facts.RawTarget);
        buffer.Write(KeyServerProtocol);
        MarshalWriter.String(buffer, facts.Protocol);
        buffer.Write(KeyUrlScheme);
        MarshalWriter.String(buffer, facts.Scheme);

        SplitHost(facts, out string serverName, out string serverPort);
        buffer.Write(KeyServerName);
        MarshalWriter.Latin1String(buffer, serverName);
        buffer.Write(KeyServerPort);
        MarshalWriter.String(buffer, serverPort);
        buffer.Write(KeyRemoteAddr);
        MarshalWriter.String(buffer, facts.RemoteAddr);
        if (facts.RemotePort is not null)
        {
            buffer.Write(KeyRemotePort);
            MarshalWriter.String(buffer, facts.RemotePort);
        }

        if (facts.Proxy is { } proxy)
        {
            // As gunicorn: the PROXY header's protocol, and the address the client reached the proxy on.
            buffer.Write(KeyProxyProtocol);
            MarshalWriter.String(buffer, proxy.Protocol);
            buffer.Write(KeyProxyAddr);
            MarshalWriter.String(buffer, proxy.Destination.Address.ToString());
            buffer.Write(KeyProxyPort);
            MarshalWriter.String(buffer, proxy.Destination.Port.ToString(CultureInfo.InvariantCulture));
        }

        if (facts.Client is { } client)
        {
            buffer.Write(KeyClientVerify);
            MarshalWriter.String(buffer, client.Verify);
            WriteIfPresent(buffer, KeyClientSubject, client.SubjectDn);
            WriteIfPresent(buffer, KeyClientIssuer, client.IssuerDn);
            WriteIfPresent(buffer, KeyClientSerial, client.Serial);
            WriteIfPresent(buffer, KeyClientCert, client.Pem);
        }

        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in headers)
        {
            string name = header.Key;
            if (fieldLimit > 0 && FieldTooLarge(name, header.Value, fieldLimit))
            {
                return false;
            }

            if (name.Contains('_', StringComparison.Ordinal) || name.Length == 0 || name[0] == ':')
            {
                continue;
            }

            string value = HeaderValue(name, header.Value);

            buffer.Write(HeaderKey(name));
            MarshalWriter.Latin1String(buffer, value);
        }

        MarshalWriter.DictEnd(buffer);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer.Patch(lengthAt, 4), buffer.Length - start);
        return true;
    }

    private static void WriteIfPresent(ByteBuffer buffer, byte[] key, string? value)
    {
        if (value is not null)
        {
            buffer.Write(key);
            MarshalWriter.String(buffer, value);
        }
    }

    /// <summary>
    /// Whether one of a header's fields is over --limit-request-field_size, counted as gunicorn
    /// counts the line: "Name: value" and its CRLF. Each repeated field on its own (an HTTP/2
    /// client sends every cookie as a field of its own), before any is dropped.
    /// </summary>
    internal static bool FieldTooLarge(string name, Microsoft.Extensions.Primitives.StringValues values, int limit)
    {
        foreach (string? value in values)
        {
            if (name.Length + 2 + (value?.Length ?? 0) + 2 > limit)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether any field of the request is over the limit (0: none is).</summary>
    internal static bool AnyFieldTooLarge(IHeaderDictionary headers, int limit)
    {
        if (limit > 0)
        {
            foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in headers)
            {
                if (FieldTooLarge(header.Key, header.Value, limit))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>A header's environ value: repeated fields joined with ", " ("; " for Cookie).</summary>
    internal static string HeaderValue(string name, Microsoft.Extensions.Primitives.StringValues values) =>
        values.Count == 1 ? values[0] ?? ""
            : string.Join(string.Equals(name, "Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values.ToArray());

    /// <summary>Splits a request-target into its path and raw query (origin, absolute and asterisk forms).</summary>
    internal static void SplitTarget(string target, out ReadOnlySpan<char> path, out ReadOnlySpan<char> query)
    {
        ReadOnlySpan<char> t = target;
        if (t.Length > 0 && t[0] != '/' && t[0] != '*')
        {
            // absolute-form: scheme://authority/path?query
            int scheme = t.IndexOf("://", StringComparison.Ordinal);
            if (scheme >= 0)
            {
                ReadOnlySpan<char> afterAuthority = t[(scheme + 3)..];
                int slash = afterAuthority.IndexOfAny('/', '?');
                t = slash < 0 ? "/" : afterAuthority[slash..];
                if (t.Length > 0 && t[0] == '?')
                {
                    t = ("/" + t.ToString()).AsSpan();
                }
            }
        }

        int q = t.IndexOf('?');
        if (q < 0)
        {
            path = t;
            query = default;
        }
        else
        {
            path = t[..q];
            query = t[(q + 1)..];
        }
    }

    /// <summary>Percent-decodes the raw path to bytes (keeping malformed escapes as they are) and writes them as latin-1.</summary>
    internal static void WritePathInfo(ByteBuffer buffer, ReadOnlySpan<char> path, string scriptName)
    {
        byte[]? rented = null;
        Span<byte> bytes = path.Length <= 1024 ? stackalloc byte[path.Length] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(path.Length));
        int n = 0;
        for (int i = 0; i < path.Length; i++)
        {
            char c = path[i];
            if (c == '%' && i + 2 < path.Length && IsHex(path[i + 1]) && IsHex(path[i + 2]))
            {
                bytes[n++] = (byte)((HexValue(path[i + 1]) << 4) | HexValue(path[i + 2]));
                i += 2;
            }
            else
            {
                bytes[n++] = c <= '\u00ff' ? (byte)c : (byte)'?';
            }
        }

        ReadOnlySpan<byte> decoded = bytes[..n];
        if (scriptName.Length > 0)
        {
            byte[] prefix = Encoding.Latin1.GetBytes(scriptName);
            if (decoded.StartsWith(prefix) && (decoded.Length == prefix.Length || decoded[prefix.Length] == (byte)'/'))
            {
                decoded = decoded[prefix.Length..];
            }
        }

        MarshalWriter.Latin1String(buffer, decoded);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>PATH_INFO as a string: the percent-decoded raw path read as latin-1 (for the access log).</summary>
    internal static string DecodePath(ReadOnlySpan<char> path, string scriptName)
    {
        using var buffer = new ByteBuffer(path.Length + 8);
        WritePathInfo(buffer, path, scriptName);
        return (string)Lanner.Protocol.Marshal.MarshalReader.Decode(buffer.WrittenSpan)!;
    }

    /// <summary>SERVER_NAME and SERVER_PORT: from the Host header, else the local address.</summary>
    internal static void SplitHost(in RequestFacts facts, out string name, out string port)
    {
        string defaultPort = facts.Scheme == "https" ? "443" : "80";
        string? host = facts.Host;
        if (string.IsNullOrEmpty(host))
        {
            name = facts.LocalName;
            port = facts.LocalPort;
            return;
        }

        if (host[0] == '[')
        {
            int close = host.IndexOf(']', StringComparison.Ordinal);
            if (close > 0)
            {
                name = host[..(close + 1)];
                port = close + 2 < host.Length && host[close + 1] == ':' ? host[(close + 2)..] : defaultPort;
                return;
            }
        }

        int colon = host.LastIndexOf(':');
        if (colon > 0 && host.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            name = host[..colon];
            port = host[(colon + 1)..];
        }
        else
        {
            name = host;
            port = defaultPort;
        }
    }

    /// <summary>The marshal-encoded environ key of a header name: CONTENT_TYPE, CONTENT_LENGTH or HTTP_NAME.</summary>
    internal static byte[] HeaderKey(string name)
    {
        if (HeaderKeys.TryGetValue(name, out byte[]? key))
        {
            return key;
        }

        string environName;
        if (string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase))
        {
            environName = "CONTENT_TYPE";
        }
        else if (string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
        {
            environName = "CONTENT_LENGTH";
        }
        else
        {
            var sb = new StringBuilder("HTTP_", 5 + name.Length);
            foreach (char c in name)
            {
                sb.Append(c == '-' ? '_' : char.ToUpperInvariant(c));
            }

            environName = sb.ToString();
        }

        key = Key(environName);
        if (HeaderKeys.Count < MaxCachedHeaderKeys)
        {
            HeaderKeys.TryAdd(name, key);
        }

        return key;
    }

    private static byte[] Key(string name)
    {
        using var b = new ByteBuffer(64);
        MarshalWriter.Latin1String(b, name);
        return b.WrittenSpan.ToArray();
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>
    /// The scheme a trusted front end's --secure-scheme-headers give, as gunicorn reads them:
    /// each one present says "https" when its value is exactly the secure one and "http"
    /// otherwise; <paramref name="contradictory"/> when they disagree. Null when none is present
    /// or the peer is not in --forwarded-allow-ips (with --proxy-protocol: the peer that sent the
    /// PROXY header, not the client it names).
    /// </summary>
    private static string? ForwardedScheme(HttpContext context, FrontOptions options, out bool contradictory)
    {
        contradictory = false;
        string? scheme = null;
        IHeaderDictionary headers = context.Request.Headers;
        foreach ((string name, string secure) in options.SecureSchemeHeaders)
        {
            if (!headers.TryGetValue(name, out Microsoft.Extensions.Primitives.StringValues values))
            {
                continue;
            }

            foreach (string? value in values)
            {
                string said = value == secure ? "https" : "http";
                contradictory |= scheme is not null && scheme != said;
                scheme = said;
            }
        }

        if (scheme is null)
        {
            return null;
        }

        System.Net.IPAddress? peer = options.ProxyProtocol && context.Features.Get<ProxyProtocolFeature>() is { } proxied
            ? proxied.Peer
            : context.Connection.RemoteIpAddress;
        if (!options.TrustsForwarding(peer))
        {
            contradictory = false;
            return null;
        }

        return scheme;
    }

    /// <summary>Collects the facts from Kestrel's request.</summary>
    public static RequestFacts FactsOf(HttpContext context, FrontOptions options)
    {
        string scriptName = options.ScriptName;
        HttpRequest request = context.Request;
        ConnectionInfo connection = context.Connection;
        string rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "/";
        string remoteAddr;
        string? remotePort;
        string localName;
        string localPort;
        if (connection.RemoteIpAddress is { } remote)
        {
            remoteAddr = (remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote).ToString();
            remotePort = connection.RemotePort.ToString(CultureInfo.InvariantCulture);
            localName = connection.LocalIpAddress?.ToString() ?? "localhost";
            localPort = connection.LocalPort.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            // A Unix socket: no peer address (gunicorn gives an empty REMOTE_ADDR and no REMOTE_PORT).
            remoteAddr = "";
            remotePort = null;
            localName = "localhost";
            localPort = request.Scheme == "https" ? "443" : "80";
        }

        string? host = request.Headers.Host.Count > 0 ? request.Headers.Host[0] : null;
        bool disagree = false;
        string scheme = options.SecureSchemeHeaders.Count > 0 ? ForwardedScheme(context, options, out disagree) ?? request.Scheme : request.Scheme;
        ProxyHeader? proxy = options.ProxyProtocol ? context.Features.Get<ProxyProtocolFeature>()?.Header : null;
        ClientCertificate? client = options.ClientCertificates ? ClientCertificate.Of(context) : null;
        return new RequestFacts(request.Method, rawTarget, request.Protocol, scheme, host, localName, localPort, remoteAddr, remotePort, scriptName, proxy, client, disagree);
    }
}
