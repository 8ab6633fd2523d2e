using System.Globalization;
using Tomlyn;
using Tomlyn.Model;

namespace Lanner.Settings;

/// <summary>
/// The sources other than the command line, in gunicorn's order: environment defaults, a config
/// file, LANNER_&lt;NAME&gt; variables. (The *_CMD_ARGS variables and the command line are parsed
/// by the CLI with the same parser.)
/// </summary>
public static class ConfigSources
{
    /// <summary>$WEB_CONCURRENCY, $PORT and $FORWARDED_ALLOW_IPS change defaults, as in gunicorn.</summary>
    public static void ApplyEnvironmentDefaults(SettingsBuilder builder, IReadOnlyDictionary<string, string> environment)
    {
        if (environment.TryGetValue("WEB_CONCURRENCY", out string? concurrency) && concurrency.Length > 0)
        {
            builder.Set(SettingsTable.Workers, [concurrency], SettingSource.EnvironmentDefault, "$WEB_CONCURRENCY");
        }

        if (environment.TryGetValue("PORT", out string? port) && port.Length > 0)
        {
            builder.Set(SettingsTable.Bind, ["0.0.0.0:" + port], SettingSource.EnvironmentDefault, "$PORT");
        }

        if (environment.TryGetValue("FORWARDED_ALLOW_IPS", out string? ips) && ips.Length > 0)
        {
            builder.Set(SettingsTable.ForwardedAllowIps, [ips], SettingSource.EnvironmentDefault, "$FORWARDED_ALLOW_IPS");
        }
    }

    /// <summary>LANNER_&lt;NAME&gt; variables, one per setting (lists comma-separated, except those whose values may hold commas: raw_env, static, reload_extra_files).</summary>
    public static void ApplyEnvironment(SettingsBuilder builder, IReadOnlyDictionary<string, string> environment)
    {
        foreach (Setting setting in SettingsTable.All)
        {
            if (setting.Section != SettingsTable.HooksSection && environment.TryGetValue(setting.EnvironmentVariable, out string? raw))
            {
                builder.Set(setting, [raw], SettingSource.Environment, "$" + setting.EnvironmentVariable);
            }
        }
    }

    /// <summary>
    /// A name a gunicorn.conf.py defines that is no setting (or no hook) is the file's own and is
    /// ignored, as gunicorn does. When it is one or two letters away from a setting's name (or a
    /// shortened one, as on_start for on_starting) it is most likely a typo that leaves the
    /// setting at its default, so say so.
    /// </summary>
    public static void WarnIfMistyped(SettingsBuilder builder, string origin, string name, string what, IEnumerable<string> known)
    {
        string lowered = name.ToLowerInvariant().Replace('-', '_');
        string? nearest = known
            .Select(k => (Name: k, Distance: EditDistance(lowered, k)))
            .Where(c => c.Distance <= Math.Min(2, Math.Max(1, c.Name.Length / 4))
                || (c.Distance <= 3 && Math.Min(c.Name.Length, lowered.Length) >= 6 && (c.Name.StartsWith(lowered, StringComparison.Ordinal) || lowered.StartsWith(c.Name, StringComparison.Ordinal))))
            .OrderBy(c => c.Distance)
            .Select(c => c.Name)
            .FirstOrDefault();
        if (nearest is not null)
        {
            builder.Warn($"{origin}: '{name}' is not {what} and is ignored; did you mean '{nearest}'?");
        }
    }

    /// <summary>Levenshtein distance, with a swap of two neighbours counted as one edit.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    /// <summary>
    /// Values read from a config file, by setting name. In a TOML file an unknown name is an
    /// error (a typo); in a gunicorn.conf.py other module-level names are the file's own and are ignored.
    /// </summary>
    public static void ApplyValues(SettingsBuilder builder, IEnumerable<KeyValuePair<string, object?>> values, string origin, bool strict)
    {
        foreach ((string key, object? value) in values)
        {
            Setting? setting = SettingsTable.FindByName(key.Replace('-', '_'));
            if (setting is null)
            {
                if (strict)
                {
                    throw new SettingException($"{origin}: unknown setting '{key}' (the settings are listed in docs/settings.md)");
                }

                WarnIfMistyped(builder, origin, key, "a setting", SettingsTable.All.Where(s => s.Section != SettingsTable.HooksSection).Select(s => s.Name));
                continue;
            }

            if (setting == SettingsTable.Config)
            {
                continue; // a config file does not name another one
            }

            object parsed;
            try
            {
                parsed = setting.FromConfigValue(value);
            }
            catch (SettingException ex)
            {
                throw new SettingException($"{origin}: {ex.Message}");
            }

            builder.SetValue(setting, parsed, SettingSource.ConfigFile, origin);
        }
    }

    /// <summary>A lanner.toml (the root table) or a pyproject.toml (its [tool.lanner] table).</summary>
    public static void ApplyToml(SettingsBuilder builder, string path)
    {
        TomlTable root;
        try
        {
            root = TomlSerializer.Deserialize<TomlTable>(File.ReadAllText(path)) ?? new TomlTable();
        }
        catch (TomlException ex)
        {
            throw new SettingException($"{path}: not valid TOML: {ex.Message}");
        }
        catch (IOException ex)
        {
            throw new SettingException($"{path}: cannot be read: {ex.Message}");
        }

        TomlTable table = root;
        if (Path.GetFileName(path) == "pyproject.toml")
        {
            table = root.TryGetValue("tool", out object? tool) && tool is TomlTable t && t.TryGetValue("lanner", out object? l) && l is TomlTable lanner
                ? lanner
                : throw new SettingException($"{path}: no [tool.lanner] table");
        }

        ApplyValues(builder, table.Select(kv => new KeyValuePair<string, object?>(kv.Key, Plain(kv.Value))), path, strict: true);
    }

    /// <summary>True when a pyproject.toml has a [tool.lanner] table.</summary>
    public static bool HasToolLanner(string pyproject)
    {
        try
        {
            TomlTable root = TomlSerializer.Deserialize<TomlTable>(File.ReadAllText(pyproject)) ?? new TomlTable();
            return root.TryGetValue("tool", out object? tool) && tool is TomlTable t && t.ContainsKey("lanner");
        }
        catch (Exception ex) when (ex is TomlException or IOException)
        {
            return false;
        }
    }

    /// <summary>The config file to read when -c is not given: ./lanner.toml, ./pyproject.toml with [tool.lanner], ./gunicorn.conf.py.</summary>
    public static string? FindDefault(string directory)
    {
        string toml = Path.Combine(directory, "lanner.toml");
        if (File.Exists(toml))
        {
            return toml;
        }

        string pyproject = Path.Combine(directory, "pyproject.toml");
        if (File.Exists(pyproject) && HasToolLanner(pyproject))
        {
            return pyproject;
        }

        string gunicorn = Path.Combine(directory, "gunicorn.conf.py");
        return File.Exists(gunicorn) ? gunicorn : null;
    }

    private static object? Plain(object? value) => value switch
    {
        TomlArray array => array.Select(Plain).ToList(),
        TomlTable table => table.ToDictionary(kv => kv.Key, kv => Plain(kv.Value)),
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString(CultureInfo.InvariantCulture),
        _ => value,
    };
}
