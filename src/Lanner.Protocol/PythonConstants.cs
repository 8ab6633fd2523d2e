using System.Globalization;
using System.Text;

namespace Lanner.Protocol;

/// <summary>
/// Renders <c>python/lanner/worker/_protocol.py</c> from the C# declarations, so each wire
/// constant is declared once. A test compares the rendering with the checked-in file.
/// </summary>
public static class PythonConstants
{
    public const string RelativePath = "python/lanner/worker/_protocol.py";

    public static string Render()
    {
        var sb = new StringBuilder();
        sb.Append("\"\"\"Wire constants of the Lanner worker protocol.\n\n");
        sb.Append("Generated from src/Lanner.Protocol (FrameType.cs) by PythonConstants.Render(); do not edit.\n");
        sb.Append("Regenerate with: LANNER_REGENERATE=1 dotnet test tests/Lanner.Protocol.Tests\n\"\"\"\n\n");
        sb.Append("import struct\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"VERSION = {ProtocolVersion.Current}\n\n");
        sb.Append("# u32 payload length, u8 type, u8 flags, u32 stream id; little-endian\n");
        sb.Append(CultureInfo.InvariantCulture, $"HEADER = struct.Struct(\"<IBBI\")\nHEADER_SIZE = {FrameHeader.Size}\n");
        sb.Append(CultureInfo.InvariantCulture, $"MAX_PAYLOAD = {FrameParser.DefaultMaxPayload}\n\n");
        foreach (FrameType type in Enum.GetValues<FrameType>())
        {
            sb.Append(CultureInfo.InvariantCulture, $"{ToUpperSnake(type.ToString())} = 0x{(byte)type:X2}\n");
        }

        sb.Append('\n');
        foreach (FrameFlags flag in Enum.GetValues<FrameFlags>())
        {
            if (flag != FrameFlags.None)
            {
                sb.Append(CultureInfo.InvariantCulture, $"FLAG_{ToUpperSnake(flag.ToString())} = 0x{(byte)flag:X2}\n");
            }
        }

        sb.Append('\n');
        foreach (WorkerLogLevel level in Enum.GetValues<WorkerLogLevel>())
        {
            sb.Append(CultureInfo.InvariantCulture, $"LOG_{ToUpperSnake(level.ToString())} = {(byte)level}\n");
        }

        return sb.ToString();
    }

    private static string ToUpperSnake(string name)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(name[i]));
        }

        return sb.ToString();
    }
}
