using System.Reflection;
using System.Text.RegularExpressions;

namespace Lanner.Cli.Tests;

/// <summary>The layers speak only downwards (ARCHITECTURE.md); these tests keep it true.</summary>
public partial class ArchitectureTests
{
    public static TheoryData<string, string[]> AllowedReferences => new()
    {
        { "Lanner.Protocol", [] },
        { "Lanner.Settings", [] },
        { "Lanner.Workers", ["Lanner.Protocol"] },
        { "Lanner.Hosting", ["Lanner.Protocol", "Lanner.Settings", "Lanner.Workers"] },
        { "lanner", ["Lanner.Hosting", "Lanner.Settings"] },
    };

    [Theory]
    [MemberData(nameof(AllowedReferences))]
    public void Assembly_ReferencesOnlyTheLayersBelowIt(string assembly, string[] allowed)
    {
        Assembly loaded = Assembly.Load(assembly);
        string[] lanner = loaded.GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => n.StartsWith("Lanner.", StringComparison.Ordinal) || n == "lanner")
            .Order()
            .ToArray();

        Assert.Equal(allowed.Order(), lanner);
    }

    [Theory]
    [InlineData("Lanner.Protocol")]
    [InlineData("Lanner.Workers")]
    [InlineData("Lanner.Settings")]
    public void LowerLayers_DoNotSeeAspNetCore(string assembly)
    {
        Assembly loaded = Assembly.Load(assembly);

        Assert.DoesNotContain(loaded.GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    /// <summary>Dispatch lives in the hosting assembly but knows nothing of Kestrel types.</summary>
    [Fact]
    public void Dispatch_SourceDoesNotUseAspNetCore()
    {
        string dir = Path.Combine(RepositoryRoot(), "src", "Lanner.Hosting", "Dispatch");
        foreach (string file in Directory.GetFiles(dir, "*.cs"))
        {
            Assert.DoesNotMatch(AspNetUsing(), File.ReadAllText(file));
        }
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Lanner.slnx")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found");
    }

    [GeneratedRegex(@"Microsoft\.AspNetCore|HttpContext")]
    private static partial Regex AspNetUsing();
}
