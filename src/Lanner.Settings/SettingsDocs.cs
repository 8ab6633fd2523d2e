using System.Text;

namespace Lanner.Settings;

/// <summary>
/// docs/settings.md and docs/gunicorn-parity.md, rendered from <see cref="SettingsTable"/>. A test
/// compares the files with this output, so the docs cannot drift from the code; run the Settings
/// tests with LANNER_REGENERATE=1 to rewrite them.
/// </summary>
public static class SettingsDocs
{
    private const string Generated =
        "<!-- Generated from src/Lanner.Settings/SettingsTable*.cs: do not edit by hand. "
        + "Regenerate with `LANNER_REGENERATE=1 dotnet test tests/Lanner.Settings.Tests`. -->";

    public static string RenderSettings()
    {
        var md = new StringBuilder();
        md.AppendLine("# Settings").AppendLine().AppendLine(Generated).AppendLine();
        md.AppendLine("Every setting can be given in each of these places; a later one overrides an earlier one");
        md.AppendLine("(gunicorn's order):").AppendLine();
        md.AppendLine("1. the default, which `WEB_CONCURRENCY` (workers), `PORT` (bind `0.0.0.0:$PORT`) and");
        md.AppendLine("   `FORWARDED_ALLOW_IPS` change, as they do for gunicorn;");
        md.AppendLine("2. the config file: `-c FILE`, or else the first of `./lanner.toml`, `[tool.lanner]` in");
        md.AppendLine("   `./pyproject.toml` and `./gunicorn.conf.py`. A `gunicorn.conf.py` is run with the workers' Python and");
        md.AppendLine("   its module-level names are read; TOML files use the same names as keys;");
        md.AppendLine("3. environment variables `LANNER_<NAME>` (e.g. `LANNER_WORKERS=4`). A list takes several values");
        md.AppendLine("   separated by commas (`LANNER_BIND=127.0.0.1:8000,[::1]:8000`), except `raw_env`, `static` and");
        md.AppendLine("   `reload_extra_files`, whose values may contain commas themselves: their variable holds one value;");
        md.AppendLine("4. `GUNICORN_CMD_ARGS`, then `LANNER_CMD_ARGS`: command-line options in a variable;");
        md.AppendLine("5. the command line.").AppendLine();
        md.AppendLine("`lanner --print-config` shows every effective value and where it came from; `lanner check`");
        md.AppendLine("validates the configuration and imports the app in a worker. A value that cannot be used is");
        md.AppendLine("one line naming the setting and what it accepts, and exit status 2.").AppendLine();
        md.AppendLine("A reload (HUP) reads every source again and applies the workers' settings. The master's own");
        md.AppendLine("(" + string.Join(", ", SettingsTable.RestartOnly.Select(s => $"`{s.Name}`")) + ")");
        md.AppendLine("take effect with a restart; a reload that finds one of them changed says so in the log.").AppendLine();
        md.AppendLine("Settings of gunicorn that Lanner accepts with a warning or refuses are listed in");
        md.AppendLine("[gunicorn-parity.md](gunicorn-parity.md), with the reasons.").AppendLine();
        foreach (string section in SettingsTable.Sections)
        {
            var settings = SettingsTable.All.Where(s => s.Section == section && s.Support == Support.Supported).ToList();
            if (settings.Count == 0)
            {
                continue;
            }

            md.AppendLine($"## {section}").AppendLine();
            foreach (Setting setting in settings)
            {
                md.AppendLine($"### `{setting.Name}`").AppendLine();
                md.AppendLine(Cell(setting.Help)).AppendLine();
                md.AppendLine("| | |").AppendLine("|---|---|");
                if (!setting.ConfigOnly)
                {
                    string value = setting.IsSwitch ? "" : " " + setting.MetaVar;
                    md.AppendLine($"| Command line | {string.Join(", ", setting.Flags.Select(f => $"`{f}{value}`"))} |");
                    md.AppendLine($"| Environment | `{setting.EnvironmentVariable}` |");
                }

                if (setting != SettingsTable.Config)
                {
                    md.AppendLine($"| Config file | `{setting.Name}` |");
                }

                md.AppendLine($"| Accepts | {Cell(setting.Accepts)} |");
                md.AppendLine($"| Default | {Code(setting.DefaultText)}: {Cell(setting.DefaultReason)} |");
                md.AppendLine();
            }
        }

        return md.ToString();
    }

    public static string RenderParity()
    {
        var md = new StringBuilder();
        md.AppendLine("# gunicorn parity").AppendLine().AppendLine(Generated).AppendLine();
        md.AppendLine("Every setting of gunicorn 20.1, and what Lanner does with it:").AppendLine();
        md.AppendLine("- **supported**: the same name, flags and meaning;");
        md.AppendLine("- **warned**: accepted, has no effect here, and a warning line says why (it is harmless);");
        md.AppendLine("- **refused**: a value other than gunicorn's default stops the start with the reason (exit 2),");
        md.AppendLine("  because Lanner cannot do what it asks and silently ignoring it would mislead.").AppendLine();
        var gunicorn = SettingsTable.All.Where(s => s.FromGunicorn).ToList();
        md.AppendLine($"{gunicorn.Count(s => s.Support == Support.Supported)} supported, {gunicorn.Count(s => s.Support == Support.Warned)} warned, "
            + $"{gunicorn.Count(s => s.Support == Support.Refused)} refused.").AppendLine();
        md.AppendLine("| Setting | Flags | Lanner | Notes |").AppendLine("|---|---|---|---|");
        foreach (Setting setting in gunicorn)
        {
            string status = setting.Support.ToString().ToLowerInvariant();
            string notes = setting.Support == Support.Supported ? $"default {Code(setting.DefaultText)}: {setting.DefaultReason}" : setting.SupportNote;
            md.AppendLine($"| `{setting.Name}` | {Flags(setting)} | {status} | {Cell(notes)} |");
        }

        md.AppendLine().AppendLine("## Lanner's own settings").AppendLine();
        md.AppendLine("| Setting | Flags | What it does |").AppendLine("|---|---|---|");
        foreach (Setting setting in SettingsTable.All.Where(s => !s.FromGunicorn))
        {
            md.AppendLine($"| `{setting.Name}` | {Flags(setting)} | {Cell(setting.Help)} |");
        }

        return md.ToString();
    }

    private static string Flags(Setting setting) =>
        setting.ConfigOnly ? "(config file only)" : string.Join(", ", setting.Flags.Select(f => $"`{f}`"));

    private static string Code(string text) => text.Length == 0 ? "(empty)" : $"`{text.Replace("|", "\\|", StringComparison.Ordinal)}`";

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
