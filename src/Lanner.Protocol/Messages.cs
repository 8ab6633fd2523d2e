using System.Buffers.Binary;
using System.Text;
using Lanner.Protocol.Marshal;

namespace Lanner.Protocol;

/// <summary>What a worker announces in its <see cref="FrameType.Hello"/> frame.</summary>
public sealed record WorkerHello(int Version, int Pid, int WorkerId, string Token, string Interface, string PythonVersion)
{
    public static WorkerHello Decode(ReadOnlySpan<byte> payload)
    {
        var dict = DecodeDict(payload, "hello");
        int version = (int)Require<long>(dict, "version", "hello");
        return new WorkerHello(
            version,
            (int)Require<long>(dict, "pid", "hello"),
            (int)Require<long>(dict, "worker", "hello"),
            Require<string>(dict, "token", "hello"),
            Require<string>(dict, "interface", "hello"),
            dict.GetValueOrDefault("python") as string ?? "?");
    }

    internal static Dictionary<string, object?> DecodeDict(ReadOnlySpan<byte> payload, string what) =>
        MarshalReader.Decode(payload) as Dictionary<string, object?>
        ?? throw new ProtocolException(ProtocolError.MalformedPayload, $"{what}: payload is not a dict");

    internal static T Require<T>(Dictionary<string, object?> dict, string key, string what) =>
        dict.TryGetValue(key, out object? value) && value is T typed
            ? typed
            : throw new ProtocolException(ProtocolError.MalformedPayload, $"{what}: '{key}' missing or not a {typeof(T).Name}");
}

/// <summary>Why a worker could not load the app: one line for the operator and the Python traceback.</summary>
public sealed record WorkerBootError(string Message, string Traceback)
{
    public static WorkerBootError Decode(ReadOnlySpan<byte> payload)
    {
        var dict = WorkerHello.DecodeDict(payload, "boot error");
        return new WorkerBootError(
            dict.GetValueOrDefault("message") as string ?? "(no message)",
            dict.GetValueOrDefault("traceback") as string ?? "");
    }
}

/// <summary>A file range a worker hands over for the master to send (<see cref="FrameType.ResponseFile"/>).</summary>
public readonly record struct FileRange(int Fd, long Offset, long Count)
{
    public static FileRange Decode(ReadOnlySpan<byte> payload)
    {
        if (MarshalReader.Decode(payload) is object?[] { Length: 3 } t && t[0] is long fd && t[1] is long offset && t[2] is long count
            && fd >= 0 && fd <= int.MaxValue && offset >= 0 && count >= 0)
        {
            return new FileRange((int)fd, offset, count);
        }

        throw new ProtocolException(ProtocolError.MalformedPayload, "response file: expected (fd, offset, count)");
    }
}

/// <summary>Payload layouts that are plain binary rather than marshal.</summary>
public static class Payloads
{
    /// <summary>Splits a Request or Response payload: u32 head length, head, then body bytes.</summary>
    public static void SplitHead(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> head, out ReadOnlySpan<byte> body)
    {
        if (payload.Length < 4)
        {
            throw new ProtocolException(ProtocolError.MalformedPayload, "head length missing");
        }

        uint headLength = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (headLength > (uint)(payload.Length - 4))
        {
            throw new ProtocolException(ProtocolError.MalformedPayload, $"head of {headLength} bytes in a {payload.Length}-byte payload");
        }

        head = payload.Slice(4, (int)headLength);
        body = payload[(4 + (int)headLength)..];
    }

    public static int ReadUInt32(ReadOnlySpan<byte> payload)
    {
        if (payload.Length != 4)
        {
            throw new ProtocolException(ProtocolError.MalformedPayload, $"expected 4 bytes, got {payload.Length}");
        }

        uint value = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        return value > int.MaxValue ? int.MaxValue : (int)value;
    }

    public static uint[] ReadStreamIds(ReadOnlySpan<byte> payload)
    {
        if (payload.Length % 4 != 0)
        {
            throw new ProtocolException(ProtocolError.MalformedPayload, "stream id list not a multiple of 4 bytes");
        }

        var ids = new uint[payload.Length / 4];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = BinaryPrimitives.ReadUInt32LittleEndian(payload[(i * 4)..]);
        }

        return ids;
    }

    public static (WorkerLogLevel Level, string Text) ReadLog(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 1)
        {
            throw new ProtocolException(ProtocolError.MalformedPayload, "log record without a level");
        }

        var level = (WorkerLogLevel)Math.Clamp((int)payload[0], (int)WorkerLogLevel.Debug, (int)WorkerLogLevel.Critical);
        return (level, Encoding.UTF8.GetString(payload[1..]));
    }
}

/// <summary>A zygote's answer to Spawn: the pid of the forked worker, or why it could not fork.</summary>
public sealed record SpawnResult(int WorkerId, int Pid, string? Error)
{
    public static SpawnResult Decode(ReadOnlySpan<byte> payload)
    {
        var dict = WorkerHello.DecodeDict(payload, "spawned");
        return new SpawnResult(
            (int)WorkerHello.Require<long>(dict, "worker", "spawned"),
            (int)(dict.GetValueOrDefault("pid") as long? ?? 0),
            dict.GetValueOrDefault("error") as string);
    }
}

/// <summary>A forked worker ended: its pid and exit code as .NET reports it (128 + signal when killed).</summary>
public readonly record struct ChildExit(int Pid, int ExitCode)
{
    public static ChildExit Decode(ReadOnlySpan<byte> payload)
    {
        if (Marshal.MarshalReader.Decode(payload) is object?[] { Length: 2 } t && t[0] is long pid && t[1] is long code)
        {
            return new ChildExit((int)pid, code < 0 ? 128 + (int)-code : (int)code);
        }

        throw new ProtocolException(ProtocolError.MalformedPayload, "child exit: expected (pid, code)");
    }
}
