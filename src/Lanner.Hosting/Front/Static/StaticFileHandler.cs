using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Lanner.Hosting.Front.Static;

/// <summary>
/// Serves --static mounts from the master, with no Python involved: GET and HEAD; ETag and
/// Last-Modified with 304s; single byte ranges (206, 416); precompressed .br/.gz siblings chosen by
/// Accept-Encoding (with Vary); a year of immutable caching for names carrying a content hash
/// (Django's ManifestStaticFilesStorage: name.0123456789ab.css), a minute for others; no listings.
/// One per server.
/// </summary>
internal sealed partial class StaticFileHandler
{
    /// <summary>Cache-Control for hashed names: the content of such a URL never changes.</summary>
    public const string ImmutableCacheControl = "public, max-age=31536000, immutable";

    /// <summary>Cache-Control for other files: browsers recheck after a minute (as whitenoise does).</summary>
    public const string ShortCacheControl = "public, max-age=60";

    private static readonly FileExtensionContentTypeProvider ContentTypes = new();
    private static readonly byte[] NotFoundBody = "Not Found\n"u8.ToArray();

    /// <summary>Refused links are reported once per request path, up to this many paths.</summary>
    private const int MaxReportedLinks = 100;

    private readonly StaticMount[] _mounts;
    private readonly StaticFileCache _cache;
    private readonly ILogger? _logger;
    private readonly ConcurrentDictionary<string, bool> _reportedLinks = new(StringComparer.Ordinal);

    public StaticFileHandler(IReadOnlyList<StaticMount> mounts, TimeProvider time, ILogger? logger = null)
    {
        // Longest prefix first, so /static/admin/ can be mounted apart from /static/.
        _mounts = [.. mounts.OrderByDescending(m => m.Prefix.Length)];
        _logger = logger;
        _cache = new StaticFileCache(time, ReportOutsideRoot);
    }

    /// <summary>
    /// A symlink that leads out of the root is not followed (a 404). Say so once, so an operator
    /// whose files are links (Django's collectstatic --link) is not left guessing.
    /// </summary>
    private void ReportOutsideRoot(StaticMount mount, string rawPath, string target)
    {
        if (_logger is null || _reportedLinks.Count >= MaxReportedLinks || !_reportedLinks.TryAdd(rawPath, true))
        {
            return;
        }

        StaticLog.LinkOutsideRoot(_logger, rawPath, target, mount.Root);
    }

    public bool HasMounts => _mounts.Length > 0;

    /// <summary>The mount a raw request path falls under, if any.</summary>
    public StaticMount? Match(string rawPath)
    {
        foreach (StaticMount mount in _mounts)
        {
            if (rawPath.StartsWith(mount.Prefix, StringComparison.Ordinal))
            {
                return mount;
            }
        }

        return null;
    }

    public Task ServeAsync(HttpContext context, StaticMount mount, string rawPath)
    {
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        bool head = HttpMethods.IsHead(request.Method);
        if (!head && !HttpMethods.IsGet(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            response.ContentLength = 0;
            return Task.CompletedTask;
        }

        StaticFileCache.Entry? entry = _cache.Get(mount, rawPath);
        if (entry is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            response.ContentLength = NotFoundBody.Length;
            return head ? Task.CompletedTask : response.Body.WriteAsync(NotFoundBody).AsTask();
        }

        StaticFile file = ChooseEncoding(request.Headers.AcceptEncoding, entry);
        IHeaderDictionary headers = response.Headers;
        headers.ContentType = ContentTypeOf(entry.Plain.Path);
        headers.LastModified = file.LastModified;
        headers.ETag = file.ETag;
        headers.AcceptRanges = "bytes";
        headers.CacheControl = IsHashedName(entry.Plain.Path) ? ImmutableCacheControl : ShortCacheControl;
        if (entry.Brotli is not null || entry.Gzip is not null)
        {
            headers.Vary = "Accept-Encoding";
        }

        if (file.Encoding is not null)
        {
            headers.ContentEncoding = file.Encoding;
        }

        if (NotModified(request.Headers, file))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        long start = 0;
        long length = file.Length;
        switch (ParseRange(request.Headers, file, out long rangeStart, out long rangeLength))
        {
            case RangeResult.Satisfiable:
                start = rangeStart;
                length = rangeLength;
                response.StatusCode = StatusCodes.Status206PartialContent;
                headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {start}-{start + length - 1}/{file.Length}");
                break;
            case RangeResult.Unsatisfiable:
                response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{file.Length}");
                response.ContentLength = 0;
                return Task.CompletedTask;
        }

        response.ContentLength = length;
        if (head || length == 0)
        {
            return Task.CompletedTask;
        }

        byte[]? content = _cache.ContentOf(file);
        if (content is not null)
        {
            response.BodyWriter.Write(content.AsSpan((int)start, (int)length));
            return Task.CompletedTask;
        }

        return StreamAsync(context, file.Path, start, length);
    }

    /// <summary>Large files: read straight into the response pipe's buffers, 64 KiB at a time.</summary>
    private static async Task StreamAsync(HttpContext context, string path, long offset, long count)
    {
        using Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        PipeWriter writer = context.Response.BodyWriter;
        while (count > 0)
        {
            Memory<byte> memory = writer.GetMemory(64 * 1024);
            int read = await RandomAccess.ReadAsync(handle, memory[..(int)Math.Min(memory.Length, count)], offset, context.RequestAborted);
            if (read == 0)
            {
                context.Abort(); // the file shrank: a short body must not pass for a complete one
                return;
            }

            writer.Advance(read);
            offset += read;
            count -= read;
            FlushResult flushed = await writer.FlushAsync(context.RequestAborted);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                return;
            }
        }
    }

    internal static StaticFile ChooseEncoding(Microsoft.Extensions.Primitives.StringValues acceptEncoding, StaticFileCache.Entry entry)
    {
        if (acceptEncoding.Count == 0 || (entry.Brotli is null && entry.Gzip is null))
        {
            return entry.Plain;
        }

        bool br = false;
        bool gzip = false;
        if (StringWithQualityHeaderValue.TryParseList(acceptEncoding, out IList<StringWithQualityHeaderValue>? values))
        {
            foreach (StringWithQualityHeaderValue value in values)
            {
                if (value.Quality is 0)
                {
                    continue;
                }

                br |= value.Value.Equals("br", StringComparison.OrdinalIgnoreCase);
                gzip |= value.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase);
            }
        }

        return br && entry.Brotli is not null ? entry.Brotli
            : gzip && entry.Gzip is not null ? entry.Gzip
            : entry.Plain;
    }

    internal static bool NotModified(IHeaderDictionary headers, StaticFile file)
    {
        string? ifNoneMatch = headers.IfNoneMatch;
        if (!string.IsNullOrEmpty(ifNoneMatch))
        {
            // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2); weak comparison.
            foreach (string tag in ifNoneMatch.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (tag == "*" || WithoutWeak(tag) == file.ETag)
                {
                    return true;
                }
            }

            return false;
        }

        string? ifModifiedSince = headers.IfModifiedSince;
        return !string.IsNullOrEmpty(ifModifiedSince)
            && HeaderUtilities.TryParseDate(ifModifiedSince, out DateTimeOffset since)
            && file.Modified.ToUnixTimeSeconds() <= since.ToUnixTimeSeconds();
    }

    internal enum RangeResult
    {
        None,
        Satisfiable,
        Unsatisfiable,
    }

    /// <summary>One byte range (several, or a malformed header: the whole file, as RFC 9110 allows).</summary>
    internal static RangeResult ParseRange(IHeaderDictionary headers, StaticFile file, out long start, out long length)
    {
        start = 0;
        length = file.Length;
        string? range = headers.Range;
        if (string.IsNullOrEmpty(range) || !range.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return RangeResult.None;
        }

        string? ifRange = headers.IfRange;
        if (!string.IsNullOrEmpty(ifRange) && ifRange != file.ETag && ifRange != file.LastModified)
        {
            return RangeResult.None;
        }

        string spec = range["bytes=".Length..].Trim();
        if (spec.Contains(',', StringComparison.Ordinal))
        {
            return RangeResult.None;
        }

        int dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return RangeResult.None;
        }

        string first = spec[..dash].Trim();
        string last = spec[(dash + 1)..].Trim();
        long size = file.Length;
        if (first.Length == 0)
        {
            // bytes=-N: the last N bytes
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out long suffix))
            {
                return RangeResult.None;
            }

            if (suffix == 0 || size == 0)
            {
                return RangeResult.Unsatisfiable;
            }

            start = Math.Max(0, size - suffix);
            length = size - start;
            return RangeResult.Satisfiable;
        }

        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out long from))
        {
            return RangeResult.None;
        }

        long to = size - 1;
        if (last.Length > 0 && (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out to) || to < from))
        {
            return RangeResult.None;
        }

        if (from >= size)
        {
            return RangeResult.Unsatisfiable;
        }

        start = from;
        length = Math.Min(to, size - 1) - from + 1;
        return RangeResult.Satisfiable;
    }

    internal static bool IsHashedName(string path) => HashedName().IsMatch(Path.GetFileName(path));

    internal static string ContentTypeOf(string path)
    {
        if (!ContentTypes.TryGetContentType(path, out string? type))
        {
            return "application/octet-stream";
        }

        return type.StartsWith("text/", StringComparison.Ordinal) || type == "application/javascript" || type == "text/javascript"
            ? type + "; charset=utf-8"
            : type;
    }

    private static string WithoutWeak(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;

    // Django's ManifestStaticFilesStorage: name.<12 hex digits>.ext
    [GeneratedRegex(@"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")]
    private static partial Regex HashedName();
}
