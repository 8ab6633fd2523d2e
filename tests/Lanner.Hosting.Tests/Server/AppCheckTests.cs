using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Lanner.Hosting.Dispatch;
using Lanner.Hosting.Server;
using Lanner.Workers;

namespace Lanner.Hosting.Tests.Server;

public sealed class AppCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lanner-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- the TLS files, as the server loads them ----------------------------------------------

    [Fact]
    public void CheckTlsFiles_WithoutTls_IsFine() => Assert.Null(AppCheck.CheckTlsFiles(new ListenOptions()));

    [Theory]
    [InlineData("--keyfile")]
    [InlineData("--cert-reqs")]
    [InlineData("--ca-certs")]
    public void CheckTlsFiles_ATlsSettingWithoutCertfile_IsRefused(string setting)
    {
        ListenOptions listen = setting switch
        {
            "--keyfile" => new ListenOptions { KeyFile = "key.pem" },
            "--cert-reqs" => new ListenOptions { CertReqs = 2 },
            _ => new ListenOptions { CaCerts = "ca.pem" },
        };

        Assert.Equal($"{setting} needs --certfile: without it Lanner serves plain HTTP.", AppCheck.CheckTlsFiles(listen));
    }

    [Fact]
    public void CheckTlsFiles_AMissingCertificate_IsRefused()
    {
        string? problem = AppCheck.CheckTlsFiles(new ListenOptions { CertFile = "/nonexistent.pem" });

        Assert.NotNull(problem);
        Assert.StartsWith("cannot load the TLS certificate /nonexistent.pem (no --keyfile: its private key is looked for in the same file): ", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckTlsFiles_ACertificateWithoutItsKey_IsRefused()
    {
        (string cert, string key) = WriteCertificate();

        string? problem = AppCheck.CheckTlsFiles(new ListenOptions { CertFile = cert, KeyFile = cert });

        Assert.NotNull(problem);
        Assert.StartsWith($"cannot load the TLS certificate {cert} with key {cert}: ", problem, StringComparison.Ordinal);
        Assert.Null(AppCheck.CheckTlsFiles(new ListenOptions { CertFile = cert, KeyFile = key }));
    }

    [Fact]
    public void CheckTlsFiles_CaCertsThatHoldNoCertificate_AreRefused()
    {
        (string cert, string key) = WriteCertificate();
        string empty = Path.Combine(_dir, "empty.pem");
        File.WriteAllText(empty, "not a certificate\n");

        Assert.Equal($"cannot load the CA certificates of --ca-certs {empty}: the file holds no PEM certificate",
            AppCheck.CheckTlsFiles(new ListenOptions { CertFile = cert, KeyFile = key, CertReqs = 2, CaCerts = empty }));
        Assert.Null(AppCheck.CheckTlsFiles(new ListenOptions { CertFile = cert, KeyFile = key, CertReqs = 2, CaCerts = cert }));
    }

    [Fact]
    public void Run_AnUnloadableCertificate_Exits1BeforeRunningPython()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        int code = AppCheck.Run(Options("/nonexistent/python") with { Listen = new ListenOptions { CertFile = "/nonexistent.pem" } }, output, error);

        Assert.Equal(ExitCodes.Error, code);
        Assert.StartsWith("lanner: error: cannot load the TLS certificate /nonexistent.pem ", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("python", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }

    // ---- the app, loaded in the workers' interpreter --------------------------------------------

    [Theory]
    [InlineData("/bin/true")] // exits 0 and says nothing
    [InlineData("/bin/echo")] // exits 0 and says something else
    public void Run_AProgramThatDoesNotReportTheLoad_IsNotOk(string program)
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        int code = AppCheck.Run(Options(program), output, error);

        Assert.Equal(ExitCodes.AppLoadError, code);
        Assert.DoesNotContain("Configuration OK.", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"lanner: error: {program} ran and exited with exit code 0, but did not report loading the app hello:app (is --python a Python 3 interpreter?)",
            error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_AnInterpreterThatCannotStart_IsOneLine()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        int code = AppCheck.Run(Options(Path.Combine(_dir, "no-such-python")), output, error);

        Assert.Equal(ExitCodes.AppLoadError, code);
        Assert.StartsWith($"lanner: error: cannot start the interpreter {Path.Combine(_dir, "no-such-python")} to load the app hello:app: ", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_AnAppThatLoads_IsOk()
    {
        File.WriteAllText(Path.Combine(_dir, "hello.py"), "def app(environ, start_response):\n    return [b'hi']\n");
        var (output, error) = (new StringWriter(), new StringWriter());

        int code = AppCheck.Run(Options("/usr/bin/python3"), output, error);

        Assert.True(code == ExitCodes.Ok, error.ToString());
        Assert.Equal("hello:app loads: hello.app\nConfiguration OK.\n", output.ToString().ReplaceLineEndings("\n"));
    }

    private ServerOptions Options(string python) => new()
    {
        Binds = [],
        Dispatch = new DispatchOptions(),
        Pool = new PoolOptions
        {
            Workers = 1,
            PythonExecutable = python,
            WorkerPackagePath = Path.Combine(RepositoryRoot(), "python"),
            AppSpec = "hello:app",
            Chdir = _dir,
        },
    };

    /// <summary>A self-signed certificate: (cert.pem, key.pem).</summary>
    private (string Cert, string Key) WriteCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        string cert = Path.Combine(_dir, "cert.pem");
        string key = Path.Combine(_dir, "key.pem");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(key, rsa.ExportPkcs8PrivateKeyPem());
        return (cert, key);
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lanner.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Lanner.slnx) above " + AppContext.BaseDirectory);
    }
}
