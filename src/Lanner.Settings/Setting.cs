using System.Globalization;

namespace Lanner.Settings;

/// <summary>Thrown when a value cannot be taken; the message names the setting and what it accepts.</summary>
public sealed class SettingException(string message) : Exception(message);

/// <summary>How Lanner treats a setting gunicorn has.</summary>
public enum Support
{
    /// <summary>Supported with gunicorn's meaning (or Lanner's own setting).</summary>
    Supported,

    /// <summary>Accepted and ignored with a warning: harmless here.</summary>
    Warned,

    /// <summary>Refused with an explanation: it cannot mean here what it means in gunicorn.</summary>
    Refused,
}

/// <summary>
/// One setting, declared once in <see cref="SettingsTable"/>. Every source (command line,
/// environment, config file) turns its raw text into a value through <see cref="Parse"/>, so
/// validation and error messages are the same everywhere.
/// </summary>
public abstract class Setting
{
    protected Setting(string name, string[] flags, string section, string help, string defaultReason, string metaVar)
    {
        Name = name;
        Flags = flags;
        Section = section;
        Help = help;
        DefaultReason = defaultReason;
        MetaVar = metaVar;
    }

    /// <summary>The setting's name: snake_case, as in gunicorn.conf.py and lanner.toml.</summary>
    public string Name { get; }

    /// <summary>Command-line spellings, gunicorn's where gunicorn has the setting.</summary>
    public IReadOnlyList<string> Flags { get; }

    public string Section { get; }

    public string Help { get; }

    /// <summary>Why the default is what it is.</summary>
    public string DefaultReason { get; }

    /// <summary>Placeholder for the value in help text (INT, ADDRESS, …); empty for switches.</summary>
    public string MetaVar { get; }

    /// <summary>Lanner's treatment of it; settings gunicorn does not have are <see cref="Support.Supported"/>.</summary>
    public Support Support { get; init; } = Support.Supported;

    /// <summary>Why a setting is warned about or refused, for the message and the parity table.</summary>
    public string SupportNote { get; init; } = "";

    /// <summary>True for gunicorn's settings (the parity table lists them).</summary>
    public bool FromGunicorn { get; init; } = true;

    /// <summary>Only in config files (no flag, e.g. the server hooks).</summary>
    public bool ConfigOnly => Flags.Count == 0;

    public string EnvironmentVariable => "LANNER_" + Name.ToUpperInvariant();

    /// <summary>The flag to name in messages: the long one (or the config key).</summary>
    public string DisplayFlag => Flags.Count > 0 ? Flags[^1] : Name;

    /// <summary>A switch takes no value on the command line.</summary>
    public abstract bool IsSwitch { get; }

    /// <summary>A list setting may be given several times; each occurrence adds values.</summary>
    public abstract bool IsList { get; }

    /// <summary>What the value must be, for messages: "a positive integer".</summary>
    public abstract string Accepts { get; }

    public abstract object DefaultValue { get; }

    /// <summary>The default as the docs and --print-config show it.</summary>
    public abstract string DefaultText { get; }

    /// <summary>Parses one raw value (for a list: one occurrence, which may hold several comma-separated items).</summary>
    public abstract object Parse(string raw);

    /// <summary>Combines the occurrences of a list setting given in one source.</summary>
    public abstract object Combine(IEnumerable<object> values);

    public abstract string Format(object value);

    /// <summary>True when the value is the default (so a refused setting left at its default is fine).</summary>
    public bool IsDefault(object value) => Format(value) == DefaultText;

    /// <summary>
    /// A value from a config file (TOML or the module globals of a gunicorn.conf.py): strings are
    /// parsed; booleans, numbers and lists are turned into their text first.
    /// </summary>
    public object FromConfigValue(object? value) => value switch
    {
        null => DefaultValue,
        string s => Parse(s),
        bool b => Parse(b ? "true" : "false"),
        IEnumerable<object?> list when IsList => Combine(list.Select(v => Parse(ConfigText(v))).ToList()),
        IEnumerable<object?> list => Parse(string.Join(",", list.Select(ConfigText))),
        IDictionary<string, object?> map => Parse(string.Join(",", map.Select(kv => $"{kv.Key}={ConfigText(kv.Value)}"))),
        _ => Parse(ConfigText(value)),
    };

    private static string ConfigText(object? value) => value switch
    {
        null => "",
        bool b => b ? "true" : "false",
        double d => d.ToString(CultureInfo.InvariantCulture),
        float f => f.ToString(CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    protected SettingException Invalid(string raw, string? why = null) =>
        new($"{DisplayFlag}: invalid value '{raw}' ({why ?? "expected " + Accepts})");
}

public sealed class Setting<T> : Setting
    where T : notnull
{
    private readonly Func<string, T> _parse;
    private readonly Func<T, string> _format;
    private readonly Func<IEnumerable<T>, T>? _combine;

    public Setting(
        string name,
        string[] flags,
        string section,
        T defaultValue,
        string accepts,
        Func<string, T> parse,
        string help,
        string defaultReason,
        string metaVar = "",
        Func<T, string>? format = null,
        Func<IEnumerable<T>, T>? combine = null,
        bool isSwitch = false)
        : base(name, flags, section, help, defaultReason, metaVar)
    {
        Default = defaultValue;
        AcceptsText = accepts;
        _parse = parse;
        _format = format ?? (v => v.ToString() ?? "");
        _combine = combine;
        SwitchFlag = isSwitch;
    }

    public T Default { get; }

    private string AcceptsText { get; }

    private bool SwitchFlag { get; }

    public override bool IsSwitch => SwitchFlag;

    public override bool IsList => _combine is not null;

    public override string Accepts => AcceptsText;

    public override object DefaultValue => Default;

    public override string DefaultText => _format(Default);

    public override object Parse(string raw)
    {
        try
        {
            return _parse(raw);
        }
        catch (SettingException)
        {
            throw;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
        {
            throw Invalid(raw);
        }
    }

    public T ParseTyped(string raw) => (T)Parse(raw);

    public override object Combine(IEnumerable<object> values) =>
        _combine is null ? values.Last() : _combine(values.Cast<T>());

    public override string Format(object value) => _format((T)value);

    internal SettingException Reject(string raw, string why) => Invalid(raw, why);
}
