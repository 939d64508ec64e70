using System.Buffers.Binary;
using System.Text;

namespace Ser.Engine.Tests.Audio;

/// <summary>
/// Emits WAV bytes by hand, independently of WavWriter, so reader tests do not test the writer against itself.
/// </summary>
internal static class RawWav
{
    public static byte[] Chunk(string id, byte[] body, uint? declaredSize = null)
    {
        var b = new List<byte>(Encoding.ASCII.GetBytes(id));
        b.AddRange(U32(declaredSize ?? (uint)body.Length));
        b.AddRange(body);
        if (body.Length % 2 == 1)
            b.Add(0);   // pad byte
        return [.. b];
    }

    /// <summary>"RIFF" size "WAVE" + chunks; the RIFF size is computed unless given.</summary>
    public static byte[] Riff(params byte[][] chunks) => Riff(null, "RIFF", "WAVE", chunks);

    public static byte[] Riff(uint? riffSize, string magic, string form, params byte[][] chunks)
    {
        var body = chunks.SelectMany(c => c).ToArray();
        return [.. Encoding.ASCII.GetBytes(magic), .. U32(riffSize ?? (uint)(4 + body.Length)), .. Encoding.ASCII.GetBytes(form), .. body];
    }

    public static byte[] Fmt(ushort tag, int channels, int rate, int bits, int? blockAlign = null)
    {
        int align = blockAlign ?? channels * bits / 8;
        return Chunk("fmt ", [.. U16(tag), .. U16((ushort)channels), .. U32((uint)rate), .. U32((uint)(rate * align)),
                              .. U16((ushort)align), .. U16((ushort)bits)]);
    }

    /// <summary>WAVE_FORMAT_EXTENSIBLE with KSDATAFORMAT_SUBTYPE {subTag-0000-0010-8000-00AA00389B71}.</summary>
    public static byte[] FmtExtensible(ushort subTag, int channels, int rate, int bits, int validBits, byte[]? guidTail = null)
    {
        int align = channels * bits / 8;
        byte[] guid = [.. U16(subTag), .. (guidTail ?? [0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71])];
        return Chunk("fmt ", [.. U16(0xFFFE), .. U16((ushort)channels), .. U32((uint)rate), .. U32((uint)(rate * align)),
                              .. U16((ushort)align), .. U16((ushort)bits), .. U16(22), .. U16((ushort)validBits),
                              .. U32(channels == 2 ? 3u : 4u), .. guid]);
    }

    public static byte[] DataChunk(byte[] samples, uint? declaredSize = null) => Chunk("data", samples, declaredSize);

    // Sample encoders: integer codes are written as stored in the file.
    public static byte[] Pcm8(IEnumerable<int> codes) => codes.Select(c => (byte)c).ToArray();
    public static byte[] Pcm16(IEnumerable<int> codes) => codes.SelectMany(c => U16((ushort)(short)c)).ToArray();
    public static byte[] Pcm24(IEnumerable<int> codes) => codes.SelectMany(c => new[] { (byte)c, (byte)(c >> 8), (byte)(c >> 16) }).ToArray();
    public static byte[] Pcm32(IEnumerable<int> codes) => codes.SelectMany(c => U32((uint)c)).ToArray();
    public static byte[] Float32(IEnumerable<float> v) => v.SelectMany(x => { var b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, x); return b; }).ToArray();
    public static byte[] Float64(IEnumerable<double> v) => v.SelectMany(x => { var b = new byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(b, x); return b; }).ToArray();

    public static byte[] U16(ushort v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); return b; }
    public static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }
}

/// <summary>A temporary folder deleted with the test.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ser-audio-").FullName;

    public string File(string name, byte[]? bytes = null)
    {
        string p = System.IO.Path.Combine(Path, name);
        if (bytes is not null)
            System.IO.File.WriteAllBytes(p, bytes);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
