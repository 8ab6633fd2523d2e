using System.CommandLine;
using System.CommandLine.Parsing;
using Lanner.Settings;

namespace Lanner.Cli;

/// <summary>
/// Builds the command line from <see cref="SettingsTable"/>: one option per setting, with
/// gunicorn's spellings. Values are parsed by the settings themselves, so a bad value gives the
/// same message here as in a config file.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<Setting, Option> _options = [];
    private readonly Argument<string?> _appModule;
    private readonly Option<bool> _version;

    public CommandLine()
    {
        Root = new RootCommand(
            "Lanner: a production application server for Python web apps (WSGI).\n\n"
            + "  lanner [OPTIONS] APP_MODULE          serve the app\n"
            + "  lanner check [OPTIONS] [APP_MODULE]  check the configuration and that the app loads\n"
            + "  lanner top CONTROL_ADDRESS           watch a running server (see --control-bind)\n\n"
            + "Options come from gunicorn.conf.py, lanner.toml or [tool.lanner] in pyproject.toml, LANNER_<NAME>, "
            + "GUNICORN_CMD_ARGS/LANNER_CMD_ARGS and the command line (later wins); --print-config shows the result. "
            + "gunicorn settings that do not apply here are accepted with a warning or refused with the reason: see docs/gunicorn-parity.md.");
        _appModule = new Argument<string?>("APP_MODULE")
        {
            Arity = ArgumentArity.ZeroOrOne,
            Description = "The app to serve: module:callable, module (uses 'application', then 'app'), or module:factory().",
        };
        Root.Arguments.Add(_appModule);

        // Our own --version, printed the way gunicorn prints its own.
        foreach (Option builtIn in Root.Options.Where(o => o is VersionOption).ToList())
        {
            Root.Options.Remove(builtIn);
        }

        _version = new Option<bool>("--version") { Description = "Show the version and exit." };
        Root.Options.Add(_version);

        foreach (Setting setting in SettingsTable.All.Where(s => !s.ConfigOnly))
        {
            Option option = setting.IsSwitch
                ? new Option<bool>(setting.Flags[^1], [.. setting.Flags.Take(setting.Flags.Count - 1)])
                : new Option<string[]>(setting.Flags[^1], [.. setting.Flags.Take(setting.Flags.Count - 1)])
                {
                    Arity = ArgumentArity.OneOrMore,
                    AllowMultipleArgumentsPerToken = false,
                    HelpName = setting.MetaVar,
                };
            option.Description = setting.Support switch
            {
                Support.Refused => $"Not supported: {setting.SupportNote}",
                Support.Warned => $"Accepted for gunicorn compatibility: {setting.SupportNote}",
                _ => $"{setting.Help} [default: {setting.DefaultText}]",
            };
            option.Hidden = setting.Support != Support.Supported;
            _options[setting] = option;
            Root.Options.Add(option);
        }
    }

    public RootCommand Root { get; }

    public ParseResult Parse(IReadOnlyList<string> args) => Root.Parse(args);

    /// <summary>
    /// The first token that looks like an option but is none (argparse's "unrecognized
    /// arguments"); the parser alone would take it for APP_MODULE.
    /// </summary>
    public string? UnknownOption(IReadOnlyList<string> args)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (Option option in Root.Options)
        {
            known.Add(option.Name);
            known.UnionWith(option.Aliases);
        }

        foreach (string token in args)
        {
            if (token == "--")
            {
                return null;
            }

            if (token.Length < 2 || token[0] != '-' || char.IsDigit(token[1]))
            {
                continue;
            }

            string name = token.Split('=', 2)[0];
            bool shortWithValue = token[1] != '-' && token.Length > 2 && known.Contains(token[..2]);
            if (!known.Contains(name) && !shortWithValue)
            {
                return token;
            }
        }

        return null;
    }

    public bool WantsVersion(ParseResult result) => result.GetValue(_version);

    /// <summary>The --help text, wrapped at <paramref name="width"/> columns (the terminal's width when run).</summary>
    public string HelpText(int width)
    {
        foreach (Option option in Root.Options)
        {
            if (option is System.CommandLine.Help.HelpOption { Action: System.CommandLine.Help.HelpAction help })
            {
                help.MaxWidth = width;
            }
        }

        using var output = new StringWriter();
        Root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = output });
        return output.ToString();
    }

    /// <summary>The value given for one setting, if any (e.g. -c before the config file is read).</summary>
    public string? RawValue(ParseResult result, Setting setting)
    {
        Option option = _options[setting];
        OptionResult? found = result.GetResult(option);
        if (found is null || found.Implicit || option is Option<bool>)
        {
            return null;
        }

        string[] values = result.GetValue((Option<string[]>)option) ?? [];
        return values.Length > 0 ? values[^1] : null;
    }

    /// <summary>Reads the command-line values into <paramref name="builder"/>; throws SettingException on a bad value.</summary>
    public void Apply(ParseResult result, SettingsBuilder builder, SettingSource source = SettingSource.CommandLine, string? origin = null)
    {
        string? app = result.GetValue(_appModule);
        if (app is not null)
        {
            builder.AppModule = app;
        }

        foreach ((Setting setting, Option option) in _options)
        {
            OptionResult? found = result.GetResult(option);
            if (found is null || found.Implicit)
            {
                continue;
            }

            if (option is Option<bool> flag)
            {
                builder.Set(setting, [result.GetValue(flag) ? "true" : "false"], source, origin);
            }
            else
            {
                string[] values = result.GetValue((Option<string[]>)option) ?? [];
                builder.Set(setting, values, source, origin);
            }
        }
    }
}
