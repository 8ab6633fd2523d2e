namespace Lanner.Cli.Tests;

/// <summary>
/// --help is generated from the settings table; this snapshot shows every change to it in review.
/// LANNER_REGENERATE=1 rewrites the snapshot instead (then review the diff and commit it).
/// </summary>
public class HelpSnapshotTests
{
    [Fact]
    public void Help_MatchesTheSnapshot()
    {
        // The usage line names the running executable: the test host here, lanner when installed.
        string help = System.Text.RegularExpressions.Regex.Replace(
            new CommandLine().HelpText(width: 120).ReplaceLineEndings("\n"), @"(?m)^  \S+ \[<APP_MODULE>\]", "  lanner [<APP_MODULE>]");
        string path = Path.Combine(RepositoryRoot(), "tests", "Lanner.Cli.Tests", "Snapshots", "help.txt");
        if (Environment.GetEnvironmentVariable("LANNER_REGENERATE") == "1")
        {
            File.WriteAllText(path, help);
        }

        Assert.True(File.Exists(path), "the --help snapshot is missing: run LANNER_REGENERATE=1 dotnet test tests/Lanner.Cli.Tests");
        Assert.Equal(File.ReadAllText(path), help);
    }

    [Fact]
    public void Help_ListsEverySupportedFlagAndHidesRefusedOnes()
    {
        string help = new CommandLine().HelpText(width: 200);
        foreach (Lanner.Settings.Setting setting in Lanner.Settings.SettingsTable.All.Where(s => !s.ConfigOnly))
        {
            bool listed = help.Contains(setting.Flags[^1] + " ", StringComparison.Ordinal) || help.Contains(setting.Flags[^1] + "\n", StringComparison.Ordinal);
            Assert.True(listed == (setting.Support == Lanner.Settings.Support.Supported), setting.Name);
        }
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lanner.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Lanner.slnx)");
    }
}
