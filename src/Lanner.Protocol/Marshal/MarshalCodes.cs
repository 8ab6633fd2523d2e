namespace Lanner.Protocol.Marshal;

/// <summary>
/// Type codes of CPython's <c>marshal</c> format (version 4, Python ≥ 3.4), the subset Lanner
/// reads and writes. Python reads what the master writes with <c>marshal.loads</c>, a C call of
/// about a microsecond for a browser-sized environ.
/// </summary>
internal static class MarshalCodes
{
    public const byte Null = (byte)'0';
    public const byte None = (byte)'N';
    public const byte False = (byte)'F';
    public const byte True = (byte)'T';
    public const byte Int = (byte)'i';
    public const byte Long = (byte)'l';
    public const byte BinaryFloat = (byte)'g';
    public const byte Bytes = (byte)'s';
    public const byte Interned = (byte)'t';
    public const byte Ref = (byte)'r';
    public const byte Tuple = (byte)'(';
    public const byte SmallTuple = (byte)')';
    public const byte List = (byte)'[';
    public const byte Dict = (byte)'{';
    public const byte Unicode = (byte)'u';
    public const byte Ascii = (byte)'a';
    public const byte AsciiInterned = (byte)'A';
    public const byte ShortAscii = (byte)'z';
    public const byte ShortAsciiInterned = (byte)'Z';
    public const byte FlagRef = 0x80;
}
