using Microsoft.Extensions.Logging;

namespace Lanner.Hosting.Front.Static;

/// <summary>Log lines of the static files, event ids 2100–2199.</summary>
internal static partial class StaticLog
{
    [LoggerMessage(2100, LogLevel.Warning, "Not serving {Path}: it is a symlink to {Target}, outside the static root {Root} (copy the files in, e.g. collectstatic without --link); answered 404")]
    public static partial void LinkOutsideRoot(ILogger logger, string path, string target, string root);
}
