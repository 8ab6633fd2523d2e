namespace Lanner.Settings;

/// <summary>Where an effective value came from, lowest precedence first.</summary>
public enum SettingSource
{
    Default,
    ConfigFile,
    Environment,
    CommandLine,
}

/// <summary>
/// The effective value of every setting and where each came from. Immutable; built by
/// <see cref="SettingsBuilder"/>. Lower layers never see it: the host turns it into options records.
/// </summary>
public sealed class EffectiveSettings
{
    private readonly Dictionary<Setting, (object Value, SettingSource Source, string? Origin)> _values;

    internal EffectiveSettings(Dictionary<Setting, (object, SettingSource, string?)> values, string? appModule)
    {
        _values = values;
        AppModule = appModule;
    }

    /// <summary>APP_MODULE as given, or null.</summary>
    public string? AppModule { get; }

    public T Get<T>(Setting<T> setting)
        where T : notnull =>
        _values.TryGetValue(setting, out var v) ? (T)v.Value : setting.Default;

    public SettingSource SourceOf(Setting setting) =>
        _values.TryGetValue(setting, out var v) ? v.Source : SettingSource.Default;

    /// <summary>The file or variable a value came from, when it did not come from the default or command line.</summary>
    public string? OriginOf(Setting setting) => _values.TryGetValue(setting, out var v) ? v.Origin : null;
}

/// <summary>Collects raw values source by source; later sources override earlier ones (gunicorn's order).</summary>
public sealed class SettingsBuilder
{
    private readonly Dictionary<Setting, (object, SettingSource, string?)> _values = [];

    public string? AppModule { get; set; }

    /// <summary>Sets a setting from the occurrences given in one source (several for a list).</summary>
    public SettingsBuilder Set(Setting setting, IReadOnlyList<string> raws, SettingSource source, string? origin = null)
    {
        if (raws.Count == 0)
        {
            return this;
        }

        object value = setting.IsList ? setting.Combine(raws.Select(setting.Parse).ToList()) : setting.Parse(raws[^1]);
        _values[setting] = (value, source, origin);
        return this;
    }

    public SettingsBuilder SetValue(Setting setting, object value, SettingSource source, string? origin = null)
    {
        _values[setting] = (value, source, origin);
        return this;
    }

    public EffectiveSettings Build() => new(new(_values), AppModule);
}
