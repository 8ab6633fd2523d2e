using System.Runtime.InteropServices;
using System.Text;

namespace Lanner.Hosting.Front.Static;

/// <summary>
/// Maps a raw request path to a file under a mount, refusing everything that could leave the
/// root or reveal what should stay hidden: "." and ".." segments in any encoding (decoded once,
/// never twice), encoded or raw backslashes, NUL, dot-files, and symlinks whose target is outside
/// the root. A refused path is simply "not found" (404), never an error.
/// </summary>
internal static partial class StaticPath
{
    /// <summary>Returns the file's full path (symlinks resolved) or null.</summary>
    public static string? Resolve(StaticMount mount, string rawPath) => Resolve(mount, rawPath, out _);

    /// <summary>
    /// As <see cref="Resolve(StaticMount, string)"/>; when the path exists but a symlink leads it
    /// out of the root, <paramref name="outsideTarget"/> is where it leads.
    /// </summary>
    public static string? Resolve(StaticMount mount, string rawPath, out string? outsideTarget)
    {
        outsideTarget = null;
        if (!rawPath.StartsWith(mount.Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        string? relative = DecodeOnce(rawPath.AsSpan(mount.Prefix.Length));
        if (relative is null || relative.Length == 0)
        {
            return null;
        }

        foreach (string segment in relative.Split('/'))
        {
            if (segment.Length == 0 || segment[0] == '.')
            {
                // Empty ("//"), ".", ".." and dot-files (.env, .git) alike.
                return null;
            }
        }

        string candidate = mount.Root + "/" + relative;
        string? real = RealPath(candidate);
        if (real is null)
        {
            return null;
        }

        if (!real.StartsWith(mount.Root + "/", StringComparison.Ordinal))
        {
            outsideTarget = real;
            return null;
        }

        return real;
    }

    /// <summary>Percent-decodes as UTF-8; null for malformed input or forbidden characters.</summary>
    internal static string? DecodeOnce(ReadOnlySpan<char> path)
    {
        int query = path.IndexOfAny('?', '#');
        if (query >= 0)
        {
            path = path[..query];
        }

        var bytes = new List<byte>(path.Length);
        for (int i = 0; i < path.Length; i++)
        {
            char c = path[i];
            if (c == '%')
            {
                if (i + 2 >= path.Length || !char.IsAsciiHexDigit(path[i + 1]) || !char.IsAsciiHexDigit(path[i + 2]))
                {
                    return null;
                }

                bytes.Add(Convert.ToByte(path.Slice(i + 1, 2).ToString(), 16));
                i += 2;
            }
            else if (c > 0x7f)
            {
                return null; // raw non-ASCII in a request target: clients escape it
            }
            else
            {
                bytes.Add((byte)c);
            }
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        foreach (char c in decoded)
        {
            if (c == '\\' || c == '\0' || char.IsControl(c))
            {
                return null;
            }
        }

        return decoded;
    }

    /// <summary>realpath(3): the canonical path with every symlink resolved, or null if it does not exist.</summary>
    internal static string? RealPath(string path)
    {
        nint result = Realpath(path, 0);
        if (result == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(result);
        }
        finally
        {
            Free(result);
        }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Realpath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);
}
