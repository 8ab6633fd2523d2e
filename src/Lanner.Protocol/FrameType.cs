namespace Lanner.Protocol;

/// <summary>
/// Every frame type of protocol version <see cref="ProtocolVersion.Current"/>. This enum is the one
/// declaration of the wire constants: <c>python/lanner/worker/_protocol.py</c> is generated from it
/// (see <see cref="PythonConstants"/>) and a test fails when the two differ.
/// </summary>
/// <remarks>
/// Ranges: 0x01–0x0F worker→master control, 0x10–0x1F worker→master per request,
/// 0x81–0x8F master→worker control, 0x90–0x9F master→worker per request.
/// </remarks>
public enum FrameType : byte
{
    /// <summary>Worker→master, first frame: marshal dict (version, pid, worker, token, interface, python).</summary>
    Hello = 0x01,

    /// <summary>Worker→master: the app imported; the worker takes requests from now on.</summary>
    Ready = 0x02,

    /// <summary>Worker→master: the app could not be loaded; marshal dict (message, traceback). The worker exits.</summary>
    BootError = 0x03,

    /// <summary>Worker→master: marshal list of stream ids handed back after a <see cref="Reclaim"/>, none of them started.</summary>
    Reclaimed = 0x04,

    /// <summary>Worker→master: a log record: u8 level, then UTF-8 text. Stream id names the request, or 0.</summary>
    Log = 0x05,

    /// <summary>Zygote→master: marshal dict (worker, pid, error): the answer to a <see cref="Spawn"/>.</summary>
    Spawned = 0x06,

    /// <summary>Zygote→master: marshal (pid, code): a worker it forked ended; code as os.waitstatus_to_exitcode (negative: killed by that signal).</summary>
    ChildExit = 0x07,

    /// <summary>Worker→master: u32 head length, marshal (status, headers), then body bytes.</summary>
    Response = 0x10,

    /// <summary>Worker→master: response body bytes.</summary>
    ResponseBody = 0x11,

    /// <summary>Worker→master: marshal (fd, offset, count): the master sends that range of the worker's open file.</summary>
    ResponseFile = 0x12,

    /// <summary>Worker→master: u32 byte count: the app wants more of the request body.</summary>
    BodyPull = 0x13,

    /// <summary>Worker→master: the app raised; UTF-8 traceback. Ends the stream.</summary>
    AppError = 0x14,

    /// <summary>Master→worker, answer to <see cref="Hello"/>: marshal dict of worker options.</summary>
    Config = 0x81,

    /// <summary>Master→worker: finish what was received, then exit.</summary>
    Stop = 0x82,

    /// <summary>Master→worker: hand back every received request that has not started.</summary>
    Reclaim = 0x83,

    /// <summary>Master→zygote: u32 worker id: fork a worker with that id (--preload).</summary>
    Spawn = 0x84,

    /// <summary>Master→worker: u32 head length, marshal environ, then the first body bytes.</summary>
    Request = 0x90,

    /// <summary>Master→worker: request body bytes.</summary>
    RequestBody = 0x91,

    /// <summary>Master→worker: the client went away; stop the response and close the iterable.</summary>
    Abort = 0x92,

    /// <summary>Master→worker: u8 1 if the master opened the file of a <see cref="ResponseFile"/>, 0 if the worker must send it.</summary>
    FileAck = 0x93,
}

/// <summary>Frame flags (one byte). Only <see cref="End"/> is defined in version 1.</summary>
[Flags]
public enum FrameFlags : byte
{
    None = 0,

    /// <summary>Last frame of this direction of the stream (request body complete, or response complete).</summary>
    End = 0x01,
}

/// <summary>Log levels carried by <see cref="FrameType.Log"/> frames; the numbers are Python's logging levels / 10.</summary>
public enum WorkerLogLevel : byte
{
    Debug = 1,
    Info = 2,
    Warning = 3,
    Error = 4,
    Critical = 5,
}

public static class ProtocolVersion
{
    /// <summary>The version this build speaks; a worker announcing another one is refused.</summary>
    public const int Current = 1;
}
