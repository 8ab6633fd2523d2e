namespace Lanner.Settings;

/// <summary>Thrown when a value cannot be taken; the message names the setting and what it accepts.</summary>
public sealed class SettingException(string message) : Exception(message);

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

    public string EnvironmentVariable => "LANNER_" + Name.ToUpperInvariant();

    /// <summary>The flag to name in messages: the long one.</summary>
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
