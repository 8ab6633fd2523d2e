namespace Lanner.Protocol;

/// <summary>Why a frame or message from a peer was rejected. Every value ends that peer's connection.</summary>
public enum ProtocolError
{
    None = 0,

    /// <summary>The header announces a payload larger than the configured maximum.</summary>
    FrameTooLarge,

    /// <summary>The type byte is not a frame type of this version.</summary>
    UnknownFrameType,

    /// <summary>A known frame type that only the other side may send.</summary>
    WrongDirection,

    /// <summary>A flag bit that this version does not define.</summary>
    UnknownFlags,

    /// <summary>A payload that does not decode as its frame type requires.</summary>
    MalformedPayload,

    /// <summary>A frame that is not allowed in the connection's current state (e.g. a request before Ready).</summary>
    UnexpectedFrame,

    /// <summary>The peer speaks another protocol version.</summary>
    VersionMismatch,
}

/// <summary>Thrown by decoders; carries the <see cref="ProtocolError"/> so the connection can log and map it once.</summary>
public sealed class ProtocolException(ProtocolError error, string message) : Exception(message)
{
    public ProtocolError Error { get; } = error;
}
