namespace Lanner.Settings.Tests;

/// <summary>
/// The settings docs are generated from the table; these fail when a file in docs/ is stale.
/// LANNER_REGENERATE=1 rewrites the files instead (then review the diff and commit it).
/// </summary>
public class SettingsDocsTests
{
    [Theory]
    [InlineData("docs/settings.md")]
    [InlineData("docs/gunicorn-parity.md")]
    public void GeneratedDocs_AreUpToDate(string relative)
    {
        string expected = relative.EndsWith("parity.md", StringComparison.Ordinal) ? SettingsDocs.RenderParity() : SettingsDocs.RenderSettings();
        string path = Path.Combine(RepositoryRoot(), relative);
        if (Environment.GetEnvironmentVariable("LANNER_REGENERATE") == "1")
        {
            File.WriteAllText(path, expected);
        }

        Assert.True(File.Exists(path), $"{relative} is missing: run LANNER_REGENERATE=1 dotnet test tests/Lanner.Settings.Tests");
        Assert.True(File.ReadAllText(path) == expected,
            $"{relative} is stale: the settings table changed. Run LANNER_REGENERATE=1 dotnet test tests/Lanner.Settings.Tests and commit the result.");
    }

    [Fact]
    public void SettingsDoc_DocumentsEverySupportedSettingAndNoOther()
    {
        string doc = SettingsDocs.RenderSettings();
        foreach (Setting setting in SettingsTable.All)
        {
            Assert.Equal(setting.Support == Support.Supported, doc.Contains($"### `{setting.Name}`\n", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void ParityTable_HasARowForEveryGunicornSettingWithItsTreatment()
    {
        string doc = SettingsDocs.RenderParity();
        foreach (Setting setting in SettingsTable.All.Where(s => s.FromGunicorn))
        {
            string row = Assert.Single(doc.Split('\n'), line => line.StartsWith($"| `{setting.Name}` |", StringComparison.Ordinal));
            Assert.Contains($"| {setting.Support.ToString().ToLowerInvariant()} |", row);
            if (setting.Support != Support.Supported)
            {
                Assert.False(string.IsNullOrWhiteSpace(setting.SupportNote), setting.Name);
            }
        }
    }

    internal static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lanner.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Lanner.slnx) above " + AppContext.BaseDirectory);
    }
}
