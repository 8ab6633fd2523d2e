using System.Buffers;
using Lanner.Protocol;

namespace Lanner.Workers;

public enum ResponseEventKind
{
    /// <summary><see cref="ResponseEvent.Data"/>: u32 head length, marshal (status, headers), first body bytes.</summary>
    Head,

    /// <summary><see cref="ResponseEvent.Data"/>: body bytes.</summary>
    Body,

    /// <summary><see cref="ResponseEvent.Data"/>: u32 head length, head, marshal (fd, offset, count) of a file of worker <see cref="ResponseEvent.WorkerPid"/>.</summary>
    File,

    /// <summary>The app raised; <see cref="ResponseEvent.Text"/> is the traceback. Terminal.</summary>
    AppError,

    /// <summary>The exchange failed on the server side; see <see cref="ResponseEvent.Failure"/>. Terminal.</summary>
    Failed,
}

/// <summary>
/// One step of a response, handed from the worker connection to the front. <see cref="Data"/>
/// is a pooled array the consumer returns with <see cref="ReturnBuffer"/>.
/// </summary>
public readonly record struct ResponseEvent(
    ResponseEventKind Kind,
    byte[]? Data,
    int Length,
    bool End,
    ExchangeFailure Failure = ExchangeFailure.None,
    string? Text = null,
    int WorkerPid = 0)
{
    public ReadOnlySpan<byte> Span => Data is null ? default : Data.AsSpan(0, Length);

    public ReadOnlyMemory<byte> Memory => Data is null ? default : Data.AsMemory(0, Length);

    /// <summary>True for the last event of the exchange.</summary>
    public bool IsTerminal => End || Kind is ResponseEventKind.AppError or ResponseEventKind.Failed;

    public static ResponseEvent Copy(ResponseEventKind kind, ReadOnlySpan<byte> payload, bool end, int workerPid = 0)
    {
        byte[]? data = null;
        if (payload.Length > 0)
        {
            data = ArrayPool<byte>.Shared.Rent(payload.Length);
            payload.CopyTo(data);
        }

        return new ResponseEvent(kind, data, payload.Length, end, WorkerPid: workerPid);
    }

    public void ReturnBuffer()
    {
        if (Data is not null)
        {
            ArrayPool<byte>.Shared.Return(Data);
        }
    }

    internal static FrameFlags FlagsOf(bool end) => end ? FrameFlags.End : FrameFlags.None;
}
