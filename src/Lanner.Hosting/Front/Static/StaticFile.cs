using System.Globalization;

namespace Lanner.Hosting.Front.Static;

/// <summary>One representation of a static file (the file itself, or its .br or .gz sibling).</summary>
internal sealed class StaticFile
{
    /// <summary>Files up to this size are kept in memory and written without touching the disk.</summary>
    public const long CacheLimit = 256 * 1024;

    public StaticFile(string path, long length, DateTimeOffset modified, string? encoding)
    {
        Path = path;
        Length = length;
        Modified = modified;
        Encoding = encoding;
        // nginx's form: hex of the mtime and of the size, plus the encoding.
        ETag = string.Create(CultureInfo.InvariantCulture,
            $"\"{modified.ToUnixTimeSeconds():x}-{length:x}{(encoding is null ? "" : "-" + encoding)}\"");
        LastModified = modified.ToString("R", CultureInfo.InvariantCulture);
    }

    public string Path { get; }

    public long Length { get; }

    public DateTimeOffset Modified { get; }

    /// <summary>"br", "gzip" or null.</summary>
    public string? Encoding { get; }

    public string ETag { get; }

    public string LastModified { get; }

    /// <summary>The bytes, for files up to <see cref="CacheLimit"/>; loaded on first use.</summary>
    public byte[]? Content { get; set; }

    public bool SameAs(FileInfo info) => info.Length == Length && info.LastWriteTimeUtc == Modified.UtcDateTime;
}
