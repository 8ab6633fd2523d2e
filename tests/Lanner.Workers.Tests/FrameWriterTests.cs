using System.Net.Sockets;
using Lanner.Protocol;

namespace Lanner.Workers.Tests;

public sealed class FrameWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lanner-fw-").FullName;
    private readonly Socket _ours;
    private readonly Socket _peer;

    public FrameWriterTests()
    {
        string path = Path.Combine(_dir, "s");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        _ours = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _ours.Connect(new UnixDomainSocketEndPoint(path));
        _peer = listener.Accept();
        _ours.Blocking = false;
    }

    [Fact]
    public void Write_InsideAFlushScope_SendsOnceAtTheEnd()
    {
        using var writer = new FrameWriter(_ours, _ => { });
        using (FlushScope.Enter())
        {
            writer.Write(FrameType.Request, FrameFlags.End, 1, [1, 2, 3]);
            writer.Write(FrameType.Request, FrameFlags.End, 2, [4]);
            Assert.Equal(0, _peer.Available);
        }

        Assert.Equal((FrameHeader.Size * 2) + 4, _peer.Available);
    }

    /// <summary>
    /// Regression: the SIGURG that tells a busy worker to read its Reclaim frame was sent while the
    /// frame still waited for the end of the flush scope, so the worker found nothing to read.
    /// </summary>
    [Fact]
    public void AfterSent_RunsOnlyOnceTheFrameIsInTheKernel()
    {
        using var writer = new FrameWriter(_ours, _ => { });
        int availableWhenRun = -1;
        using (FlushScope.Enter())
        {
            writer.Write(FrameType.Reclaim, FrameFlags.None, 0, default, () => availableWhenRun = _peer.Available);
            Assert.Equal(-1, availableWhenRun);
        }

        Assert.Equal(FrameHeader.Size, availableWhenRun);
    }

    [Fact]
    public void Write_OutsideAScope_SendsAtOnce()
    {
        using var writer = new FrameWriter(_ours, _ => { });
        writer.Write(FrameType.Stop, FrameFlags.None, 0, default);

        Assert.Equal(FrameHeader.Size, _peer.Available);
    }

    public void Dispose()
    {
        _ours.Dispose();
        _peer.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
