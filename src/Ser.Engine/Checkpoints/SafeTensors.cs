using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ser.Engine.IO;

namespace Ser.Engine.Checkpoints;

/// <summary>One F32 tensor of a safetensors file.</summary>
internal sealed record SafeTensor(string Name, int[] Shape, float[] Data);

/// <summary>
/// The safetensors layout: 8-byte little-endian u64 header size N, N bytes of UTF-8 JSON (padded with spaces to a
/// multiple of 8), then the raw little-endian tensor bytes. JSON: one entry per tensor
/// {"dtype":"F32","shape":[...],"data_offsets":[begin,end]} (offsets relative to the first data byte) plus
/// "__metadata__", a string-to-string map. Every problem on reading is a one-line <see cref="SerException"/> naming
/// the file.
/// </summary>
internal static class SafeTensors
{
    const long MaxHeaderBytes = 100L << 20;

    /// <summary>
    /// Checkpoint format 1's checksum: the SHA-256 (lowercase hex) of the tensor bytes as they are laid out in the file
    /// (tensors in file order). It leaves the metadata (feature statistics, labels, config) unprotected.
    /// </summary>
    public static string Sha256(IReadOnlyList<SafeTensor> tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors) hash.AppendData(Bytes(t.Data));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Checkpoint format 2's checksum, which covers everything in the file: SHA-256 (lowercase hex) of
    /// <list type="number">
    /// <item>every metadata entry except "sha256" itself, in ordinal order of the keys' UTF-8 bytes, each as
    /// u64le(byte length) + UTF-8 key, then u64le(byte length) + UTF-8 value;</item>
    /// <item>every tensor in file order as u64le(byte length) + UTF-8 name, u64le(rank), then u64le(dimension) each;</item>
    /// <item>the tensor bytes as they are laid out in the file.</item>
    /// </list>
    /// Length prefixes keep the encoding unambiguous; it is easy to recompute in any language (see the reference reader
    /// in tools/Ser.Reference/Checkpoints and tools/pytorch/ser_reference.py).
    /// </summary>
    public static string Sha256(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensor> tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var u64 = new byte[8];
        void Number(ulong v)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(u64, v);
            hash.AppendData(u64);
        }
        void Text(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            Number((ulong)bytes.Length);
            hash.AppendData(bytes);
        }
        var entries = metadata.Where(p => p.Key != "sha256")
            .Select(p => (Key: Encoding.UTF8.GetBytes(p.Key), p.Value))
            .OrderBy(p => p.Key, Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b)));
        foreach (var (key, value) in entries)
        {
            Number((ulong)key.Length);
            hash.AppendData(key);
            Text(value);
        }
        foreach (var t in tensors)
        {
            Text(t.Name);
            Number((ulong)t.Shape.Length);
            foreach (int d in t.Shape) Number((ulong)d);
        }
        foreach (var t in tensors) hash.AppendData(Bytes(t.Data));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static ReadOnlySpan<byte> Bytes(float[] data)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoints are little-endian");
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan());
    }

    /// <summary>Writes atomically: a temp file in the same directory, flushed to disk, then renamed over the target.</summary>
    public static void Write(string path, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var t in tensors)
            {
                long bytes = (long)t.Data.Length * sizeof(float);
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        AtomicFile.Write(path, file =>
        {
            Span<byte> size = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)header.Length);
            file.Write(size);
            header.Position = 0;
            header.CopyTo(file);
            foreach (var t in tensors) file.Write(Bytes(t.Data));
        });
    }

    /// <summary>
    /// Reads and checks structure (sizes, offsets, dtypes); tensors come back in file order. The checksum is the
    /// caller's to check (<see cref="Checkpoint.Load"/>: which bytes it covers depends on the format version).
    /// </summary>
    public static (List<SafeTensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new SerException($"{path}: checkpoint not found");
        }
        catch (DirectoryNotFoundException)
        {
            throw new SerException($"{path}: checkpoint not found");
        }
        SerException Bad(string problem) => new($"{path}: {problem}");

        if (file.Length < 8) throw Bad($"truncated: {file.Length} bytes, not even a header size");
        ulong headerSize = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerSize == 0 || headerSize > (ulong)(file.Length - 8) || (long)headerSize > MaxHeaderBytes)
            throw Bad($"not a safetensors checkpoint or truncated: header size {headerSize} does not fit a {file.Length}-byte file");
        int dataStart = 8 + (int)headerSize;
        long dataLength = file.Length - dataStart;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(file.AsMemory(8, (int)headerSize));
        }
        catch (JsonException e)
        {
            throw Bad($"header is not valid JSON ({e.Message.ReplaceLineEndings(" ")})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("header is not a JSON object");
            var metadata = new Dictionary<string, string>();
            var tensors = new List<SafeTensor>();
            var ranges = new List<(long Begin, long End, string Name)>();
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object) throw Bad("__metadata__ is not a JSON object");
                    foreach (var m in entry.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"metadata '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                var (shape, begin, end) = ParseEntry(entry, Bad);
                long elements = shape.Aggregate(1L, (a, d) => a * d);
                if (end - begin != elements * sizeof(float))
                    throw Bad($"tensor '{entry.Name}': data_offsets [{begin}, {end}] hold {end - begin} bytes, shape [{string.Join(", ", shape)}] needs {elements * 4}");
                if (end > dataLength)
                    throw Bad($"truncated or corrupt: tensor '{entry.Name}' ends at data byte {end}, the file has {dataLength} data bytes");
                ranges.Add((begin, end, entry.Name));
                var data = new float[elements];
                file.AsSpan(dataStart + (int)begin, (int)(end - begin)).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
                tensors.Add(new SafeTensor(entry.Name, shape, data));
            }
            // Tensors must tile the data section exactly (no overlaps, holes or trailing bytes).
            ranges.Sort((a, b) => a.Begin.CompareTo(b.Begin));
            long at = 0;
            foreach (var r in ranges)
            {
                if (r.Begin != at) throw Bad($"tensor '{r.Name}' starts at data byte {r.Begin}, expected {at} (overlap or hole)");
                at = r.End;
            }
            if (at != dataLength) throw Bad($"{dataLength - at} unexpected bytes after the last tensor");

            // keep the file's tensor order by offset
            var order = ranges.Select((r, i) => (r.Name, i)).ToDictionary(p => p.Name, p => p.i);
            tensors.Sort((a, b) => order[a.Name].CompareTo(order[b.Name]));
            return (tensors, metadata);
        }
    }

    static (int[] Shape, long Begin, long End) ParseEntry(JsonProperty entry, Func<string, SerException> bad)
    {
        var v = entry.Value;
        if (v.ValueKind != JsonValueKind.Object) throw bad($"tensor '{entry.Name}' is not a JSON object");
        if (!v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw bad($"tensor '{entry.Name}' has no dtype");
        if (dtype.GetString() != "F32") throw bad($"tensor '{entry.Name}' has dtype {dtype.GetString()}, only F32 is supported");
        if (!v.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array)
            throw bad($"tensor '{entry.Name}' has no shape");
        var shape = new List<int>();
        foreach (var d in shapeJson.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int n) || n < 0)
                throw bad($"tensor '{entry.Name}' has a bad shape");
            shape.Add(n);
        }
        if (!v.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw bad($"tensor '{entry.Name}' has no data_offsets [begin, end]");
        // TryGetInt64 throws on a non-number: check the kind first (a string offset is bad input, not a crash).
        if (offsets[0].ValueKind != JsonValueKind.Number || offsets[1].ValueKind != JsonValueKind.Number
            || !offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw bad($"tensor '{entry.Name}' has bad data_offsets");
        return (shape.ToArray(), begin, end);
    }
}
