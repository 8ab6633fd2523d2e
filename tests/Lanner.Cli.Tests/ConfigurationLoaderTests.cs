using Lanner.Settings;

namespace Lanner.Cli.Tests;

/// <summary>Reading a gunicorn.conf.py the way gunicorn does, and the sources that choose its interpreter.</summary>
public sealed class ConfigurationLoaderTests : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private readonly string _dir = Directory.CreateTempSubdirectory("lanner-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void GunicornConf_RunsInTheCurrentDirectory_AsUnderGunicorn()
    {
        string conf = Write("gunicorn.conf.py", "import os, sys\nhere = os.getcwd()\nfirst_path = sys.path[0]\nworkers = 2\n");

        var values = PythonConfigFile.Read(conf, Python).ToDictionary(kv => kv.Key, kv => kv.Value);

        Assert.Equal(Directory.GetCurrentDirectory(), values["here"]);
        Assert.Equal("", values["first_path"]); // the working directory, as gunicorn puts it first
        Assert.Equal("2", values["workers"]);
    }

    [Fact]
    public void GunicornConfThatRaises_ShowsItsOwnFramesOnly()
    {
        string conf = Write("gunicorn.conf.py", "def f():\n    return 1 / 0\nworkers = f()\n");

        var ex = Assert.Throws<SettingException>(() => PythonConfigFile.Read(conf, Python));

        Assert.StartsWith($"{conf}: error while running it: ZeroDivisionError: division by zero\nTraceback (most recent call last):\n  File \"{conf}\", line 3, in <module>", ex.Message);
        Assert.Contains($"File \"{conf}\", line 2, in f", ex.Message);
        Assert.DoesNotContain("runpy", ex.Message);
        Assert.DoesNotContain("<string>", ex.Message);
    }

    [Fact]
    public void GunicornConfWithASyntaxError_SaysWhereWithoutTheReadersFrames()
    {
        string conf = Write("gunicorn.conf.py", "workers = 2\nif workers:\nbind = 'x'\n");

        var ex = Assert.Throws<SettingException>(() => PythonConfigFile.Read(conf, Python));

        Assert.StartsWith($"{conf}: error while running it: IndentationError: expected an indented block", ex.Message);
        Assert.Contains($"File \"{conf}\", line 3", ex.Message);
        Assert.DoesNotContain("runpy", ex.Message);
        Assert.DoesNotContain("<string>", ex.Message);
    }

    [Fact]
    public void GunicornConf_HookThatCannotTakeItsArguments_IsRefusedAtStart()
    {
        string conf = Write("gunicorn.conf.py", string.Join("\n",
            "def post_fork(server): pass",                          // called with (server, worker)
            "def when_ready(server, extra): pass",                  // called with (server)
            "def pre_fork(server, worker, flag=False): pass",       // fine: the third has a default
            "def on_exit(*args): pass",                             // fine
            "def post_request(worker, req): pass",                  // fine: gunicorn accepts 2, 3 or 4
            ""));

        var ex = Assert.Throws<SettingException>(() => PythonConfigFile.Read(conf, Python));

        Assert.Equal(
            $"{conf}: post_fork: the hook is called as post_fork(server, worker), but the file defines post_fork(server); "
            + "when_ready: the hook is called as when_ready(server), but the file defines when_ready(server, extra)",
            ex.Message);
    }

    [Fact]
    public void GunicornConf_PostRequestWithOneArgument_IsRefused()
    {
        string conf = Write("gunicorn.conf.py", "def post_request(worker): pass\n");

        var ex = Assert.Throws<SettingException>(() => PythonConfigFile.Read(conf, Python));

        Assert.Equal($"{conf}: post_request: the hook is called as post_request(worker, req, environ, resp), but the file defines post_request(worker)", ex.Message);
    }

    [Fact]
    public void GunicornConf_NamesOneOrTwoLettersFromASettingOrHook_AreReportedAsLikelyTypos()
    {
        string conf = Write("gunicorn.conf.py", string.Join("\n",
            "import os",
            "worker = 4",                                  // workers
            "log_level = 'debug'",                         // loglevel
            "TIMEOUT = 60",                                // timeout
            "def post_forks(server, worker): pass",        // post_fork
            "def on_start(server): pass",                  // on_starting
            "port = int(os.environ.get('PORT', 8000))",    // the file's own: no setting is close
            "DEBUG = True",
            "def helper(): return 1",
            "threads = 2",                                 // a real setting: no warning
            ""));

        EffectiveSettings settings = ConfigurationLoader.Load(new CommandLine(), ["-c", conf, "app"], new Dictionary<string, string>(), Python);

        Assert.Equal(
            [
                $"{conf}: 'worker' is not a setting and is ignored; did you mean 'workers'?",
                $"{conf}: 'log_level' is not a setting and is ignored; did you mean 'loglevel'?",
                $"{conf}: 'TIMEOUT' is not a setting and is ignored; did you mean 'timeout'?",
                $"{conf}: 'post_forks' is not a server hook and is ignored; did you mean 'post_fork'?",
                $"{conf}: 'on_start' is not a server hook and is ignored; did you mean 'on_starting'?",
            ],
            settings.Warnings);
        Assert.Equal(2, settings.Get(SettingsTable.Threads));
    }

    [Fact]
    public void PythonInCmdArgs_RunsTheConfigFile()
    {
        string conf = Write("gunicorn.conf.py", "workers = 2\n");
        var environment = new Dictionary<string, string> { ["GUNICORN_CMD_ARGS"] = "--python /nonexistent/python3" };

        var ex = Assert.Throws<SettingException>(() => ConfigurationLoader.Load(new CommandLine(), ["-c", conf, "app"], environment, Python));

        Assert.Contains("/nonexistent/python3", ex.Message);
    }

    [Fact]
    public void Precedence_IsGunicorns()
    {
        string conf = Write("gunicorn.conf.py", "workers = 3\nthreads = 2\ntimeout = 12\nbind = '127.0.0.1:9001'\nbacklog = 64\n");
        var environment = new Dictionary<string, string>
        {
            ["WEB_CONCURRENCY"] = "5",
            ["PORT"] = "7000",
            ["LANNER_TIMEOUT"] = "44",
            ["GUNICORN_CMD_ARGS"] = "-w 7 --threads 5 -b 127.0.0.1:7007",
            ["LANNER_CMD_ARGS"] = "--threads 9",
        };

        EffectiveSettings s = ConfigurationLoader.Load(new CommandLine(), ["-c", conf, "-w", "8", "app"], environment, Python);

        Assert.Equal((8, SettingSource.CommandLine), (s.Get(SettingsTable.Workers), s.SourceOf(SettingsTable.Workers)));
        Assert.Equal((9, "$LANNER_CMD_ARGS"), (s.Get(SettingsTable.Threads), s.OriginOf(SettingsTable.Threads)));
        Assert.Equal(("127.0.0.1:7007", "$GUNICORN_CMD_ARGS"), (Assert.Single(s.Get(SettingsTable.Bind)).ToString(), s.OriginOf(SettingsTable.Bind)));
        Assert.Equal((TimeSpan.FromSeconds(44), "$LANNER_TIMEOUT"), (s.Get(SettingsTable.Timeout), s.OriginOf(SettingsTable.Timeout)));
        Assert.Equal((64, SettingSource.ConfigFile), (s.Get(SettingsTable.Backlog), s.SourceOf(SettingsTable.Backlog)));
    }
}
