namespace Lanner.Protocol.Tests;

public class PythonConstantsTests
{
    /// <summary>The Python constants are generated from the C# enums; this fails when they drift.</summary>
    [Fact]
    public void Render_MatchesTheCheckedInPythonFile()
    {
        string path = Repository.PathOf(PythonConstants.RelativePath);
        string rendered = PythonConstants.Render();
        if (Environment.GetEnvironmentVariable("LANNER_REGENERATE") == "1")
        {
            File.WriteAllText(path, rendered);
        }

        Assert.Equal(rendered, File.ReadAllText(path));
    }
}
