namespace Lanner.Cli;

/// <summary>`lanner top ADDRESS`: a live view of a running server, read from its --control-bind.</summary>
internal static class TopCommand
{
    public static Task<int> RunAsync(string[] args)
    {
        Console.Error.WriteLine("lanner top: not available yet");
        return Task.FromResult(2);
    }
}
