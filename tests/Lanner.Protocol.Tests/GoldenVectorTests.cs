using System.Text.Json;
using Lanner.Protocol.Marshal;

namespace Lanner.Protocol.Tests;

/// <summary>The C# side against tests/vectors/protocol.json, which the Python tests read too.</summary>
public class GoldenVectorTests
{
    private static readonly JsonElement Vectors = JsonDocument.Parse(File.ReadAllText(Repository.PathOf("tests/vectors/protocol.json"))).RootElement;

    public static TheoryData<string> Frames() => Names("frames");

    public static TheoryData<string> Environs() => Names("environs");

    public static TheoryData<string> ResponseHeads() => Names("response_heads");

    [Theory]
    [MemberData(nameof(Frames))]
    public void FrameHeader_WritesTheVectorBytes(string name)
    {
        JsonElement v = Find("frames", name);
        byte[] payload = Convert.FromHexString(v.GetProperty("payload").GetString()!);
        var type = (FrameType)TypeByName(v.GetProperty("type").GetString()!);
        var header = new FrameHeader(payload.Length, type, (FrameFlags)v.GetProperty("flags").GetInt32(), v.GetProperty("stream").GetUInt32());

        byte[] written = new byte[FrameHeader.Size + payload.Length];
        header.Write(written);
        payload.CopyTo(written, FrameHeader.Size);

        Assert.Equal(v.GetProperty("hex").GetString(), Convert.ToHexString(written).ToLowerInvariant());
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void FrameParser_ReadsTheVectorHeader(string name)
    {
        JsonElement v = Find("frames", name);
        byte[] bytes = Convert.FromHexString(v.GetProperty("hex").GetString()!);
        var direction = TypeByName(v.GetProperty("type").GetString()!) >= 0x80 ? FrameDirection.MasterToWorker : FrameDirection.WorkerToMaster;

        Assert.True(FrameParser.TryReadHeader(bytes, direction, FrameParser.DefaultMaxPayload, out FrameHeader header));
        Assert.Equal(bytes.Length - FrameHeader.Size, header.Length);
        Assert.Equal(v.GetProperty("stream").GetUInt32(), header.StreamId);
        Assert.Equal(v.GetProperty("flags").GetInt32(), (int)header.Flags);
    }

    [Theory]
    [MemberData(nameof(Environs))]
    public void MarshalWriter_WritesEnvironLikeTheSpec(string name)
    {
        JsonElement v = Find("environs", name);
        using var buffer = new ByteBuffer();
        MarshalWriter.DictStart(buffer);
        foreach (JsonElement pair in v.GetProperty("fields").EnumerateArray())
        {
            MarshalWriter.String(buffer, pair[0].GetString()!);
            MarshalWriter.String(buffer, pair[1].GetString()!);
        }

        MarshalWriter.DictEnd(buffer);

        Assert.Equal(v.GetProperty("marshal").GetString(), Convert.ToHexString(buffer.WrittenSpan).ToLowerInvariant());
    }

    [Theory]
    [MemberData(nameof(Environs))]
    public void MarshalReader_ReadsEnvironBack(string name)
    {
        JsonElement v = Find("environs", name);
        var dict = (Dictionary<string, object?>)MarshalReader.Decode(Convert.FromHexString(v.GetProperty("marshal").GetString()!))!;

        foreach (JsonElement pair in v.GetProperty("fields").EnumerateArray())
        {
            Assert.Equal(pair[1].GetString(), dict[pair[0].GetString()!]);
        }
    }

    [Theory]
    [MemberData(nameof(ResponseHeads))]
    public void ResponseHead_DecodesWhatCPythonWrote(string name)
    {
        JsonElement v = Find("response_heads", name);

        Assert.True(ResponseHead.TryDecode(Convert.FromHexString(v.GetProperty("marshal").GetString()!), out ResponseHead? head, out string? problem), problem);
        Assert.Equal(v.GetProperty("status").GetString(), head!.Status);
        var expected = v.GetProperty("headers").EnumerateArray().Select(h => new KeyValuePair<string, string>(h[0].GetString()!, h[1].GetString()!)).ToList();
        Assert.Equal(expected, head.Headers);
    }

    private static TheoryData<string> Names(string section)
    {
        var data = new TheoryData<string>();
        foreach (JsonElement v in Vectors.GetProperty(section).EnumerateArray())
        {
            data.Add(v.GetProperty("name").GetString()!);
        }

        return data;
    }

    private static JsonElement Find(string section, string name) =>
        Vectors.GetProperty(section).EnumerateArray().Single(v => v.GetProperty("name").GetString() == name);

    private static int TypeByName(string name) =>
        (int)Enum.GetValues<FrameType>().Single(t => string.Concat(t.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant() == name);
}
