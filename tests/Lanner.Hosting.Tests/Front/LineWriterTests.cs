using Lanner.Hosting.Front.Logs;

namespace Lanner.Hosting.Tests.Front;

public class LineWriterTests
{
    private static async Task<string> WaitForTextAsync(string path, string expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            string text = File.Exists(path) ? await File.ReadAllTextAsync(path) : "";
            if (text == expected || DateTime.UtcNow > deadline)
            {
                return text;
            }

            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Reopen_StartsANewFileAtThePath()
    {
        string dir = Directory.CreateTempSubdirectory("lanner-linewriter").FullName;
        string path = Path.Combine(dir, "access.log");
        try
        {
            await using (var writer = new LineWriter(path))
            {
                writer.Write("one");
                Assert.Equal("one\n", await WaitForTextAsync(path, "one\n"));
                File.Move(path, path + ".1");
                writer.Reopen();
                writer.Write("two");
            }

            Assert.Equal("one\n", await File.ReadAllTextAsync(path + ".1"));
            Assert.Equal("two\n", await File.ReadAllTextAsync(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Reopen_ThatFails_KeepsWritingToTheOldFile()
    {
        string root = Directory.CreateTempSubdirectory("lanner-linewriter").FullName;
        string dir = Path.Combine(root, "logs");
        string moved = Path.Combine(root, "logs.old");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "access.log");
        try
        {
            await using (var writer = new LineWriter(path))
            {
                writer.Write("one");
                Assert.Equal("one\n", await WaitForTextAsync(path, "one\n"));

                // The directory is gone: the reopen fails, and the lines still go somewhere.
                Directory.Move(dir, moved);
                writer.Reopen();
                writer.Write("two");
                Assert.Equal("one\ntwo\n", await WaitForTextAsync(Path.Combine(moved, "access.log"), "one\ntwo\n"));

                // Once it is back, the next reopen works.
                Directory.CreateDirectory(dir);
                writer.Reopen();
                writer.Write("three");
            }

            Assert.Equal("one\ntwo\n", await File.ReadAllTextAsync(Path.Combine(moved, "access.log")));
            Assert.Equal("three\n", await File.ReadAllTextAsync(path));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
