using System.Collections.Concurrent;

namespace Lanner.Hosting.Front.Static;

/// <summary>
/// Remembers what a request path resolved to (like nginx's open_file_cache): the file, its
/// precompressed siblings and, for small files, their bytes. An entry is re-checked against the
/// disk at most once per <see cref="Revalidate"/>, so a hot file costs no system call; a changed
/// file is picked up within that time. Bounded in entries and in cached bytes; paths that resolve
/// to nothing are not remembered, so random requests cannot fill it.
/// </summary>
internal sealed class StaticFileCache(TimeProvider time, Action<StaticMount, string, string>? onOutsideRoot = null)
{
    public static readonly TimeSpan Revalidate = TimeSpan.FromSeconds(1);

    private const int MaxEntries = 10_000;

    /// <summary>Bytes of file contents kept in memory at most: 64 MiB.</summary>
    private const long MaxCachedBytes = 64L * 1024 * 1024;

    private readonly ConcurrentDictionary<(StaticMount, string), Entry> _entries = new();
    private long _cachedBytes;

    public sealed record Entry(StaticFile Plain, StaticFile? Brotli, StaticFile? Gzip, long CheckedAt);

    /// <summary>The entry for a request path under a mount, or null when it is no servable file.</summary>
    public Entry? Get(StaticMount mount, string rawPath)
    {
        long now = time.GetTimestamp();
        var key = (mount, rawPath);
        if (_entries.TryGetValue(key, out Entry? entry) && time.GetElapsedTime(entry.CheckedAt, now) < Revalidate)
        {
            return entry;
        }

        string? path = StaticPath.Resolve(mount, rawPath, out string? outside);
        if (outside is not null)
        {
            onOutsideRoot?.Invoke(mount, rawPath, outside);
        }

        Entry? fresh = path is null ? null : Load(path, entry, now);
        if (fresh is null)
        {
            _entries.TryRemove(key, out _);
        }
        else if (entry is not null || _entries.Count < MaxEntries)
        {
            _entries[key] = fresh;
        }

        return fresh;
    }

    /// <summary>The bytes of a small file, read once; null when it must be streamed from disk.</summary>
    public byte[]? ContentOf(StaticFile file)
    {
        if (file.Content is { } content)
        {
            return content;
        }

        if (file.Length > StaticFile.CacheLimit || Interlocked.Read(ref _cachedBytes) + file.Length > MaxCachedBytes)
        {
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.Path);
        }
        catch (IOException)
        {
            return null;
        }

        if (bytes.Length != file.Length)
        {
            return null; // it changed under us: stream it this time
        }

        Interlocked.Add(ref _cachedBytes, bytes.Length);
        file.Content = bytes;
        return bytes;
    }

    private static Entry? Load(string path, Entry? previous, long now)
    {
        StaticFile? plain = Stat(path, null, previous?.Plain);
        if (plain is null)
        {
            return null;
        }

        return new Entry(
            plain,
            Sibling(path + ".br", "br", plain, previous?.Brotli),
            Sibling(path + ".gz", "gzip", plain, previous?.Gzip),
            now);
    }

    private static StaticFile? Sibling(string path, string encoding, StaticFile plain, StaticFile? previous)
    {
        StaticFile? file = Stat(path, encoding, previous);
        // A compressed copy older than the file is stale: serve the file itself.
        return file is not null && file.Modified >= plain.Modified ? file : null;
    }

    private static StaticFile? Stat(string path, string? encoding, StaticFile? previous)
    {
        var info = new FileInfo(path);
        if (!info.Exists || (info.Attributes & FileAttributes.Directory) != 0)
        {
            return null;
        }

        if (previous is not null && previous.SameAs(info))
        {
            return previous;
        }

        return new StaticFile(path, info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero), encoding);
    }
}
