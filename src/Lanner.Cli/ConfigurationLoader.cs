using System.CommandLine;
using Lanner.Settings;

namespace Lanner.Cli;

/// <summary>
/// Reads the settings from every source, in gunicorn's order of precedence (later wins):
/// defaults and $WEB_CONCURRENCY/$PORT/$FORWARDED_ALLOW_IPS; the config file (-c, or ./lanner.toml,
/// [tool.lanner] in ./pyproject.toml, ./gunicorn.conf.py); LANNER_&lt;NAME&gt; variables;
/// $GUNICORN_CMD_ARGS then $LANNER_CMD_ARGS; the command line.
/// </summary>
internal static class ConfigurationLoader
{
    public static EffectiveSettings Load(CommandLine cli, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, string? defaultPython)
    {
        ParseResult parsed = Parse(cli, args, "the command line");
        var envArgs = new List<(string Variable, ParseResult Result)>();
        foreach (string variable in new[] { "GUNICORN_CMD_ARGS", "LANNER_CMD_ARGS" })
        {
            if (environment.TryGetValue(variable, out string? text) && !string.IsNullOrWhiteSpace(text))
            {
                IReadOnlyList<string> words;
                try
                {
                    words = ShellWords.Split(text);
                }
                catch (FormatException ex)
                {
                    throw new SettingException($"${variable}: {ex.Message}");
                }

                envArgs.Add((variable, Parse(cli, words, "$" + variable)));
            }
        }

        var builder = new SettingsBuilder();
        ConfigSources.ApplyEnvironmentDefaults(builder, environment);

        // The config file: named on the command line, in the *_CMD_ARGS, by $LANNER_CONFIG, or found.
        string? config = cli.RawValue(parsed, SettingsTable.Config);
        foreach ((_, ParseResult result) in Enumerable.Reverse(envArgs))
        {
            config ??= cli.RawValue(result, SettingsTable.Config);
        }

        config ??= environment.GetValueOrDefault("LANNER_CONFIG");
        bool named = !string.IsNullOrEmpty(config);
        config = named ? Path.GetFullPath(config!) : ConfigSources.FindDefault(Directory.GetCurrentDirectory());
        if (config is not null)
        {
            if (!File.Exists(config))
            {
                throw new SettingException($"--config: the file '{config}' does not exist");
            }

            if (config.EndsWith(".toml", StringComparison.OrdinalIgnoreCase))
            {
                ConfigSources.ApplyToml(builder, config);
            }
            else
            {
                // The workers' Python, from the sources that may name it, in their order.
                string? python = cli.RawValue(parsed, SettingsTable.Python);
                foreach ((_, ParseResult result) in Enumerable.Reverse(envArgs))
                {
                    python ??= cli.RawValue(result, SettingsTable.Python);
                }

                python ??= environment.GetValueOrDefault(SettingsTable.Python.EnvironmentVariable) ?? defaultPython ?? "python3";
                ConfigSources.ApplyValues(builder, PythonConfigFile.Read(config, python, out IReadOnlyList<string> functions), config, strict: false);
                foreach (string function in functions)
                {
                    // A hook with a typo in its name is never called: "def post_forks(server, worker)".
                    ConfigSources.WarnIfMistyped(builder, config, function, "a server hook", SettingsTable.Hooks.Select(h => h.Name));
                }
            }

            builder.SetValue(SettingsTable.Config, config, named ? SettingSource.CommandLine : SettingSource.ConfigFile, named ? null : "found in the working directory");
        }

        ConfigSources.ApplyEnvironment(builder, environment);
        foreach ((string variable, ParseResult result) in envArgs)
        {
            cli.Apply(result, builder, SettingSource.CommandArgs, "$" + variable);
        }

        cli.Apply(parsed, builder);
        return builder.Build();
    }

    private static ParseResult Parse(CommandLine cli, IReadOnlyList<string> words, string where)
    {
        if (cli.UnknownOption(words) is { } unknown)
        {
            throw new SettingException(where == "the command line" ? $"unrecognized option '{unknown}'" : $"{where}: unrecognized option '{unknown}'");
        }

        ParseResult result = cli.Parse(words);
        if (result.Errors.Count > 0)
        {
            string message = result.Errors[0].Message;
            throw new SettingException(where == "the command line" ? message : $"{where}: {message}");
        }

        return result;
    }

    /// <summary>--print-config: every setting's effective value and where it came from.</summary>
    public static void Print(EffectiveSettings settings, TextWriter output)
    {
        foreach (Setting setting in SettingsTable.All)
        {
            string value = setting.Format(settings.GetValue(setting));
            SettingSource source = settings.SourceOf(setting);
            string? origin = settings.OriginOf(setting);
            string from = source switch
            {
                SettingSource.Default => "default",
                SettingSource.EnvironmentDefault => $"environment ({origin})",
                SettingSource.ConfigFile => $"config file ({origin})",
                SettingSource.Environment => $"environment ({origin})",
                SettingSource.CommandArgs => $"environment ({origin})",
                _ => "command line",
            };
            output.WriteLine($"{setting.Name,-34} = {value,-40} # {from}");
        }

        output.WriteLine($"{"APP_MODULE",-34} = {settings.AppModule ?? "(none)",-40} # {(settings.AppModule is null ? "none" : "command line or config file")}");
    }
}
