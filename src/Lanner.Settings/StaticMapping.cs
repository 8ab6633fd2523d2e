namespace Lanner.Settings;

/// <summary>One --static value: URL_PREFIX=DIR. The prefix is normalised to start and end with '/'.</summary>
public sealed record StaticMapping(string Prefix, string Directory)
{
    public static StaticMapping Parse(string raw)
    {
        int eq = raw.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == raw.Length - 1)
        {
            throw new SettingException($"--static: invalid value '{raw}' (expected URL_PREFIX=DIR, e.g. /static/=staticfiles)");
        }

        string prefix = raw[..eq].Trim();
        string directory = raw[(eq + 1)..].Trim();
        if (!prefix.StartsWith('/') || prefix.Contains("..", StringComparison.Ordinal) || prefix.Contains('?', StringComparison.Ordinal))
        {
            throw new SettingException($"--static: invalid value '{raw}' (the URL prefix must be a path starting with '/')");
        }

        if (!prefix.EndsWith('/'))
        {
            prefix += "/";
        }

        return new StaticMapping(prefix, Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
    }

    public override string ToString() => $"{Prefix}={Directory}";
}
