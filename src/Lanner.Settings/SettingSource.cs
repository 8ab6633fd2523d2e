namespace Lanner.Settings;

/// <summary>Where an effective value came from, lowest precedence first (gunicorn's order).</summary>
public enum SettingSource
{
    Default,

    /// <summary>$WEB_CONCURRENCY, $PORT, $FORWARDED_ALLOW_IPS: they change defaults, as in gunicorn.</summary>
    EnvironmentDefault,

    ConfigFile,

    /// <summary>A LANNER_&lt;NAME&gt; variable.</summary>
    Environment,

    /// <summary>$GUNICORN_CMD_ARGS or $LANNER_CMD_ARGS.</summary>
    CommandArgs,

    CommandLine,
}

/// <summary>
/// The effective value of every setting and where it came from. Immutable; built by
/// <see cref="SettingsBuilder"/>. Lower layers never see it: the host turns it into options records.
/// </summary>
public sealed class EffectiveSettings
{
    private readonly Dictionary<Setting, (object Value, SettingSource Source, string? Origin)> _values;

    internal EffectiveSettings(Dictionary<Setting, (object, SettingSource, string?)> values, string? appModule, IReadOnlyList<string> warnings)
    {
        _values = values;
        AppModule = appModule;
        Warnings = warnings;
    }

    /// <summary>APP_MODULE as given (or wsgi_app from a config file), or null.</summary>
    public string? AppModule { get; }

    /// <summary>Settings that were accepted but have no effect here, and likely typos in a config file, one line each.</summary>
    public IReadOnlyList<string> Warnings { get; }

    public T Get<T>(Setting<T> setting)
        where T : notnull =>
        _values.TryGetValue(setting, out var v) ? (T)v.Value : setting.Default;

    public object GetValue(Setting setting) => _values.TryGetValue(setting, out var v) ? v.Value : setting.DefaultValue;

    public SettingSource SourceOf(Setting setting) =>
        _values.TryGetValue(setting, out var v) ? v.Source : SettingSource.Default;

    /// <summary>The file or variable a value came from, when it did not come from the default or command line.</summary>
    public string? OriginOf(Setting setting) => _values.TryGetValue(setting, out var v) ? v.Origin : null;
}

/// <summary>
/// Collects values source by source; a later source overrides an earlier one. Refused gunicorn
/// settings given a value other than their default stop here with their explanation; warned ones
/// are noted.
/// </summary>
public sealed class SettingsBuilder
{
    private readonly Dictionary<Setting, (object, SettingSource, string?)> _values = [];
    private readonly List<string> _warnings = [];

    public string? AppModule { get; set; }

    /// <summary>Sets a setting from the occurrences given in one source (several for a list).</summary>
    public SettingsBuilder Set(Setting setting, IReadOnlyList<string> raws, SettingSource source, string? origin = null)
    {
        if (raws.Count == 0)
        {
            return this;
        }

        object value;
        try
        {
            value = setting.IsList ? setting.Combine(raws.Select(setting.Parse).ToList()) : setting.Parse(raws[^1]);
        }
        catch (SettingException ex) when (origin is not null)
        {
            // Name the variable the value came from: "--workers: invalid value" alone sends the
            // user looking for a --workers that is not on their command line.
            throw new SettingException($"{origin}: {ex.Message}");
        }

        return SetValue(setting, value, source, origin);
    }

    public SettingsBuilder SetValue(Setting setting, object value, SettingSource source, string? origin = null)
    {
        if (setting.Support != Support.Supported && !setting.IsDefault(value))
        {
            string where = origin is null ? setting.DisplayFlag : $"{setting.DisplayFlag} (from {origin})";
            if (setting.Support == Support.Refused)
            {
                throw new SettingException($"{where} is not supported: {setting.SupportNote}");
            }

            _warnings.Add($"{where}: {setting.SupportNote}");
        }

        if (setting == SettingsTable.WsgiApp && value is string app && app.Length > 0)
        {
            AppModule = app; // a later source overrides an earlier one; the command line's APP_MODULE comes last
        }

        _values[setting] = (value, source, origin);
        return this;
    }

    /// <summary>A line for the operator about a source (printed before the server starts).</summary>
    public void Warn(string text) => _warnings.Add(text);

    public EffectiveSettings Build() => new(new(_values), AppModule, [.. _warnings]);
}
