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
    public async Task LinesThatFindTheQueueFull_AreCountedAndSaid()
    {
        // A reader that does not read: the pipe fills, the writer blocks, the queue of 4 fills,
        // and the lines after that are dropped. Every line either arrives or is counted.
        string dir = Directory.CreateTempSubdirectory("lanner-linewriter").FullName;
        string fifo = Path.Combine(dir, "log.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync();
        }

        var said = new List<string>();
        try
        {
            Task<FileStream> opening = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read));
            var writer = new LineWriter(fifo, 4, message => { lock (said) { said.Add(message); } });
            await using FileStream reader = await opening;
            string line = new('x', 10_000);
            for (int i = 0; i < 100; i++)
            {
                writer.Write(line);
            }

            Task<string> readAll = new StreamReader(reader).ReadToEndAsync();
            await writer.DisposeAsync();
            int arrived = (await readAll).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

            string report = Assert.Single(said);
            var match = System.Text.RegularExpressions.Regex.Match(report, @"^(\d+) lines for .*log\.fifo dropped: writing could not keep up$");
            Assert.True(match.Success, report);
            int dropped = int.Parse(match.Groups[1].Value);
            Assert.True(dropped > 0);
            Assert.Equal(100, arrived + dropped);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
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
