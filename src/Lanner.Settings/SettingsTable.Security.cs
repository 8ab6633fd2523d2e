using System.Globalization;

namespace Lanner.Settings;

/// <summary>Security, TLS, development, mechanics, naming and hook settings.</summary>
public static partial class SettingsTable
{
    public static readonly Setting<int> LimitRequestLine = new(
        "limit_request_line",
        ["--limit-request-line"],
        SecuritySection,
        4094,
        "a number of bytes from 0 (no limit) to 8190",
        raw => NonNegativeInt(raw) is var n && n <= 8190 ? n : throw new FormatException(),
        "The longest request line (method, target, protocol) accepted, in bytes; 0: no limit of its own, as gunicorn (Lanner still refuses lines over 1 MiB). Longer: 414. HTTP/1 only: over HTTP/2 the target is a header field, and a stream with one too large is reset.",
        "4094, as gunicorn: well above any real URL, small enough to refuse abuse early.",
        metaVar: "INT");

    public static readonly Setting<int> LimitRequestFields = new(
        "limit_request_fields",
        ["--limit-request-fields"],
        SecuritySection,
        100,
        "a number of header fields from 0 (the maximum) to 32768",
        raw => NonNegativeInt(raw) is var n && n <= 32768 ? n : throw new FormatException(),
        "The most header fields a request may have. More: 431.",
        "100, as gunicorn.",
        metaVar: "INT");

    public static readonly Setting<int> LimitRequestFieldSize = new(
        "limit_request_field_size",
        ["--limit-request-field_size"],
        SecuritySection,
        8190,
        "a number of bytes (0: no per-field limit)",
        NonNegativeInt,
        "The largest header field accepted, in bytes (the spelling with an underscore is gunicorn's). Larger: 431.",
        "8190, as gunicorn.",
        metaVar: "INT");

    public static readonly Setting<IReadOnlyList<string>> ForwardedAllowIps = new(
        "forwarded_allow_ips",
        ["--forwarded-allow-ips"],
        SecuritySection,
        ["127.0.0.1"],
        "comma-separated IP addresses or networks (10.0.0.0/8), or *",
        AddressList,
        "Front-end addresses trusted to set the scheme headers (--secure-scheme-headers): from them, wsgi.url_scheme follows those headers. REMOTE_ADDR stays the connection's peer, as in gunicorn: the app reads X-Forwarded-For itself (behind a TCP load balancer, see --proxy-protocol).",
        "127.0.0.1, as gunicorn: only a proxy on this machine is believed ($FORWARDED_ALLOW_IPS, if set, as gunicorn).",
        metaVar: "IPS",
        format: v => string.Join(",", v));

    public static readonly Setting<IReadOnlyList<string>> SecureSchemeHeaders = new(
        "secure_scheme_headers",
        [],
        SecuritySection,
        ["X-FORWARDED-PROTOCOL=ssl", "X-FORWARDED-PROTO=https", "X-FORWARDED-SSL=on"],
        "HEADER=VALUE pairs (in a config file: a dict)",
        raw => CommaList(raw).Select(p => p.Contains('=', StringComparison.Ordinal) ? p.ToUpperInvariant()[..p.IndexOf('=', StringComparison.Ordinal)] + p[p.IndexOf('=', StringComparison.Ordinal)..] : throw new FormatException()).ToList(),
        "Headers that, from a trusted front end, mean the request came over HTTPS.",
        "gunicorn's three.",
        format: v => string.Join(",", v));

    public static readonly Setting<bool> ProxyProtocol = Switch(
        "proxy_protocol",
        ["--proxy-protocol"],
        SecuritySection,
        "Read a PROXY protocol header (version 1 or 2, as HAProxy, AWS and other TCP load balancers send it) at the start of each connection. From a --proxy-allow-from address, REMOTE_ADDR and REMOTE_PORT become the client's, and PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT are set, as gunicorn does. A connection without a header is served as it is; a header from another address is refused (403), an invalid one too (400).",
        "Off, as gunicorn.");

    public static readonly Setting<IReadOnlyList<string>> ProxyAllowIps = new(
        "proxy_allow_ips",
        ["--proxy-allow-from"],
        SecuritySection,
        ["127.0.0.1"],
        "comma-separated IP addresses or networks (10.0.0.0/8), or *",
        AddressList,
        "Addresses allowed to send a PROXY protocol header (--proxy-protocol).",
        "127.0.0.1, as gunicorn: only a proxy on this machine is believed.",
        metaVar: "IPS",
        format: v => string.Join(",", v));

    public static readonly Setting<string> StripHeaderSpaces = NotHere("strip_header_spaces", ["--strip-header-spaces"], SecuritySection, "false", Support.Refused,
        "Refused: header names with spaces are rejected (400); accepting them is a request-smuggling risk.", isSwitch: true);

    public static readonly Setting<string> TolerateDangerousFraming = NotHere("tolerate_dangerous_framing", ["--tolerate-dangerous-framing"], SecuritySection,
        "false", Support.Refused, "Refused: ambiguous framing is never tolerated. Conflicting lengths, or a Transfer-Encoding that does not end in chunked, are a 400; a request with both Content-Length and Transfer-Encoding is read as chunked and its connection closed after the response (RFC 9112 6.3), so nothing can be smuggled behind it.", isSwitch: true);

    public static readonly Setting<string> CertFile = OptionalFile(
        "certfile",
        ["--certfile"],
        TlsSection,
        "a PEM certificate file",
        "Serve HTTPS (HTTP/1.1 and HTTP/2) on every bind with this PEM certificate (and its chain); needs --keyfile.",
        "None: plain HTTP.");

    public static readonly Setting<string> KeyFile = OptionalFile(
        "keyfile",
        ["--keyfile"],
        TlsSection,
        "a PEM private key file",
        "The PEM private key of --certfile.",
        "None.");

    public static readonly Setting<string> SslVersion = NotHere("ssl_version", ["--ssl-version"], TlsSection, "2", Support.Warned,
        "Ignored: TLS 1.2 and 1.3 are negotiated; older versions are never offered.");

    public static readonly Setting<int> CertReqs = new(
        "cert_reqs",
        ["--cert-reqs"],
        TlsSection,
        0,
        "0, 1 or 2 (or CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED)",
        raw => raw.Trim().ToUpperInvariant() switch
        {
            "0" or "CERT_NONE" or "VERIFYMODE.CERT_NONE" => 0,
            "1" or "CERT_OPTIONAL" or "VERIFYMODE.CERT_OPTIONAL" => 1,
            "2" or "CERT_REQUIRED" or "VERIFYMODE.CERT_REQUIRED" => 2,
            _ => throw new FormatException(),
        },
        "Client certificates, as Python's ssl module numbers them: 0 not asked for; 1 asked for, and checked when given; 2 required (a client without a valid one fails the TLS handshake). The app sees SSL_CLIENT_VERIFY, and with a certificate SSL_CLIENT_S_DN, SSL_CLIENT_I_DN, SSL_CLIENT_M_SERIAL and SSL_CLIENT_CERT (PEM), as nginx and mod_ssl name them. Needs --certfile.",
        "0, as gunicorn: no client certificates.",
        metaVar: "INT");

    public static readonly Setting<string> CaCerts = OptionalFile(
        "ca_certs",
        ["--ca-certs"],
        TlsSection,
        "a PEM file of CA certificates",
        "The CA certificates (PEM) that client certificates must chain to (--cert-reqs). Without it, the system's trusted CAs.",
        "None: the system's trusted CAs.");

    public static readonly Setting<string> SuppressRaggedEofs = NotHere("suppress_ragged_eofs", ["--suppress-ragged-eofs"], TlsSection, "true", Support.Warned,
        "Ignored: the TLS stack handles truncated connections itself.", isSwitch: true);

    public static readonly Setting<string> DoHandshakeOnConnect = NotHere("do_handshake_on_connect", ["--do-handshake-on-connect"], TlsSection, "false",
        Support.Warned, "Ignored: the handshake happens when the connection is accepted.", isSwitch: true);

    public static readonly Setting<string> Ciphers = NotHere("ciphers", ["--ciphers"], TlsSection, "", Support.Warned,
        "Ignored: the system's TLS policy (OpenSSL) chooses the ciphers.", metaVar: "CIPHERS");

    public static readonly Setting<bool> Reload = Switch(
        "reload",
        ["--reload"],
        DevelopmentSection,
        "Development: restart the workers when a Python file of the project (or a --reload-extra-file) changes, and say which.",
        "Off: in production, code changes are deployed with a reload (HUP). On for a Django project with DEBUG on that lanner finds itself or python manage.py lanner starts, as under runserver (--reload false turns it off).");

    public static readonly Setting<string> ReloadEngine = NotHere("reload_engine", ["--reload-engine"], DevelopmentSection, "auto", Support.Warned,
        "Ignored: --reload always uses inotify.", metaVar: "ENGINE");

    public static readonly Setting<IReadOnlyList<string>> ReloadExtraFile = new(
        "reload_extra_files",
        ["--reload-extra-file"],
        DevelopmentSection,
        [],
        "a file name or glob (repeatable)",
        raw => [raw],
        "With --reload, also watch these files (globs such as templates/**/*.html). Repeatable.",
        "Only Python files are watched.",
        metaVar: "FILES",
        format: v => string.Join(",", v),
        combine: lists => lists.SelectMany(l => l).ToList());

    public static readonly Setting<string> Spew = NotHere("spew", ["--spew"], DevelopmentSection, "false", Support.Refused,
        "Refused: tracing every executed line is a debugger's job.", isSwitch: true);

    public static readonly Setting<bool> CheckConfig = Switch(
        "check_config",
        ["--check-config"],
        DevelopmentSection,
        "Check the configuration and that the app loads, then exit (0 if so). The same as `lanner check`.",
        "Off.");

    public static readonly Setting<bool> PrintConfig = Switch(
        "print_config",
        ["--print-config"],
        DevelopmentSection,
        "Print every setting's effective value and where it came from, then exit.",
        "Off.");

    public static readonly Setting<string> ReusePort = NotHere("reuse_port", ["--reuse-port"], MechanicsSection, "false", Support.Warned,
        "Ignored: one master accepts every connection.", isSwitch: true);

    public static readonly Setting<string> Daemon = NotHere("daemon", ["-D", "--daemon"], MechanicsSection, "false", Support.Refused,
        "Refused: run Lanner in the foreground under systemd, a container or a supervisor.", isSwitch: true);

    public static readonly Setting<string> PidFile = OptionalFile(
        "pidfile",
        ["-p", "--pid"],
        MechanicsSection,
        "a file",
        "Write the master's process id to this file (removed at exit).",
        "None.");

    public static readonly Setting<string> WorkerTmpDir = NotHere("worker_tmp_dir", ["--worker-tmp-dir"], MechanicsSection, "", Support.Warned,
        "Ignored: workers signal liveness through their socket and scoreboard, not through files.", metaVar: "DIR");

    public static readonly Setting<string> User = NotHere("user", ["-u", "--user"], MechanicsSection, "0", Support.Refused,
        "Refused: start Lanner as the user it should run as (systemd User=, a container's USER).", metaVar: "USER");

    public static readonly Setting<string> Group = NotHere("group", ["-g", "--group"], MechanicsSection, "0", Support.Refused,
        "Refused, as --user.", metaVar: "GROUP");

    public static readonly Setting<int> Umask = new(
        "umask",
        ["-m", "--umask"],
        MechanicsSection,
        0,
        "an octal (0o22, 022) or decimal file mode mask",
        raw =>
        {
            string t = raw.Trim().ToLowerInvariant();
            int value = t.StartsWith("0o", StringComparison.Ordinal) ? Convert.ToInt32(t[2..], 8)
                : t.StartsWith("0x", StringComparison.Ordinal) ? Convert.ToInt32(t[2..], 16)
                : t.Length > 1 && t[0] == '0' ? Convert.ToInt32(t, 8)
                : int.Parse(t, CultureInfo.InvariantCulture);
            return value is >= 0 and <= 0x1FF ? value : throw new FormatException();
        },
        "The file mode creation mask applied while unix sockets are created (as gunicorn: it decides who may connect to them).",
        "0, as gunicorn: a unix socket anyone on the machine may connect to; use 0o7 or 0o77 to restrict it.",
        metaVar: "INT",
        format: v => "0o" + Convert.ToString(v, 8));

    public static readonly Setting<string> InitGroups = NotHere("initgroups", ["--initgroups"], MechanicsSection, "false", Support.Refused,
        "Refused, as --user.", isSwitch: true);

    public static readonly Setting<string> TmpUploadDir = NotHere("tmp_upload_dir", [], MechanicsSection, "", Support.Warned,
        "Ignored: request bodies stream to wsgi.input without temporary files.");

    public static readonly Setting<string> ProcName = NotHere("proc_name", ["-n", "--name"], NamingSection, "", Support.Warned,
        "Ignored: process titles are not changed (the master is `lanner`, workers show their APP_MODULE).", metaVar: "NAME");

    public static readonly Setting<string> DefaultProcName = NotHere("default_proc_name", [], NamingSection, "gunicorn", Support.Warned,
        "Ignored, as --name.");

    /// <summary>gunicorn's server hooks: Python functions in a gunicorn.conf.py.</summary>
    public static readonly IReadOnlyList<Setting<bool>> Hooks =
    [
        Hook("on_starting", "Called before the master binds its sockets (server); if it raises, lanner does not start. Master hooks run in a helper Python process."),
        Hook("on_reload", "Called when a reload (HUP) begins, before the new workers start (server)."),
        Hook("when_ready", "Called once the master listens, before the workers start (server); if it raises, lanner stops (exit 1), as gunicorn."),
        Hook("pre_fork", "Called as a worker is started (server, worker: its id; no pid yet). Lanner does not wait for it."),
        Hook("post_fork", "Called in the worker, before it loads the app (server, worker)."),
        Hook("post_worker_init", "Called in the worker after it loaded the app (worker)."),
        Hook("worker_int", "Called in the worker when it gets SIGQUIT (worker)."),
        Hook("worker_abort", "Called in the worker when it gets SIGABRT (worker), as when its request runs past --timeout: Lanner logs the stack, then sends SIGABRT."),
        Hook("pre_exec", "Never called: the master does not re-execute itself (USR2 upgrades are not supported).", Support.Warned),
        Hook("pre_request", "Called in the worker before each request (worker, req)."),
        Hook("post_request", "Called in the worker after each request (worker, req, environ, resp)."),
        Hook("child_exit", "Called after a worker exited (server, worker: id, pid, exitcode, reason). Lanner does not wait for it."),
        Hook("worker_exit", "Called in the worker as it exits after serving (server, worker)."),
        Hook("nworkers_changed", "Called when the number of workers is set: at start (old_value None), by TTIN/TTOU and by a reload (server, new_value, old_value)."),
        Hook("on_exit", "Called as the master exits (server); waited for up to 10 s."),
    ];

    private static Setting<bool> Hook(string name, string help, Support support = Support.Supported) =>
        new(name, [], HooksSection, false, "a function in a gunicorn.conf.py", Bool, help,
            "None: defined only by a gunicorn.conf.py.", format: v => v ? "(defined)" : "(none)")
        {
            Support = support,
            SupportNote = support == Support.Warned ? help : "",
        };
}
