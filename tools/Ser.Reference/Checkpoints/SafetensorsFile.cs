using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ser.Engine;
using Ser.Engine.IO;

namespace Ser.Reference.Checkpoints;

/// <summary>A row-major float32 tensor on the host: what checkpoints hold and what tests share with the engine.</summary>
public sealed record HostTensor(int[] Shape, float[] Data)
{
    public static long ElementCount(int[] shape) => shape.Aggregate(1L, (n, d) => n * d);
}

/// <summary>
/// The contract's checkpoint layout (safetensors): u64 little-endian header size N, N bytes of UTF-8 JSON, then the
/// raw tensor bytes. JSON: name -> {"dtype":"F32","shape":[...],"data_offsets":[begin,end]} with offsets relative to
/// the first byte after the header, plus "__metadata__" (string -> string). Only F32 is accepted.
/// "sha256" in the metadata is checked when present: in a Ser checkpoint of format 2 (metadata format "ser-checkpoint",
/// format_version "2") it is the hex SHA-256 of the metadata, the tensor table and the data region (see
/// <see cref="Sha256"/>); in any other file (format 1 checkpoints, probe files) of the whole data region alone.
/// </summary>
public static class SafetensorsFile
{
    private const long MaxHeaderBytes = 100 << 20;

    public sealed record Contents(IReadOnlyDictionary<string, HostTensor> Tensors, IReadOnlyDictionary<string, string> Metadata);

    /// <summary>Reads and validates a checkpoint; any problem is a one-line <see cref="SerException"/> naming the file.</summary>
    public static Contents Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SerException($"{path}: cannot read checkpoint: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    public static Contents Parse(byte[] bytes, string source)
    {
        SerException Bad(string why) => new($"{source}: not a valid checkpoint: {why}");

        if (bytes.Length < 8) throw Bad("shorter than its 8-byte header size");
        ulong headerSize = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerSize > MaxHeaderBytes || headerSize > (ulong)(bytes.Length - 8)) throw Bad($"header size {headerSize} out of range");
        int dataStart = 8 + (int)headerSize;
        var data = bytes.AsSpan(dataStart);

        JsonObject header;
        try
        {
            header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerSize))?.AsObject() ?? throw Bad("header is not a JSON object");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw Bad($"header JSON: {e.Message.Split('\n')[0]}");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var begins = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            try
            {
                if (name == "__metadata__")
                {
                    foreach (var (key, value) in node!.AsObject())
                        metadata[key] = value!.GetValue<string>();
                    continue;
                }
                var entry = node!.AsObject();
                string dtype = entry["dtype"]!.GetValue<string>();
                if (dtype != "F32") throw Bad($"tensor '{name}' has dtype {dtype}, only F32 is supported");
                int[] shape = entry["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
                long[] offsets = entry["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                if (shape.Any(d => d < 0)) throw Bad($"tensor '{name}' has a negative dimension");
                long count = HostTensor.ElementCount(shape);
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > data.Length || offsets[1] - offsets[0] != 4 * count)
                    throw Bad($"tensor '{name}' data_offsets [{string.Join(",", offsets)}] do not fit its shape or the file");
                var values = new float[count];
                for (long i = 0; i < count; i++)
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(int)(offsets[0] + 4 * i)..]);
                tensors[name] = new HostTensor(shape, values);
                begins[name] = offsets[0];
            }
            catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException)
            {
                throw Bad($"header entry '{name}' is malformed");
            }
        }

        if (metadata.TryGetValue("sha256", out var expected))
        {
            var fileOrder = tensors.OrderBy(t => begins[t.Key]).Select(t => (t.Key, t.Value.Shape));
            string actual = Sha256(metadata, fileOrder, data);
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new SerException($"{source}: checkpoint checksum mismatch (file is corrupt or truncated)");
        }
        return new Contents(tensors, metadata);
    }

    /// <summary>
    /// The contract's "sha256" of a file. Ser checkpoint format 2 covers everything: SHA-256 of every metadata entry
    /// except sha256 (sorted by the keys' UTF-8 bytes; each u64le byte length + UTF-8 key, u64le byte length + UTF-8
    /// value), then every tensor in file order (u64le byte length + UTF-8 name, u64le rank, u64le each dimension), then
    /// the data region. Anything else (format 1, probe files): SHA-256 of the data region.
    /// </summary>
    public static string Sha256(IReadOnlyDictionary<string, string> metadata, IEnumerable<(string Name, int[] Shape)> tensorsInFileOrder,
        ReadOnlySpan<byte> data)
    {
        bool coversMetadata = metadata.GetValueOrDefault("format") == "ser-checkpoint" && metadata.GetValueOrDefault("format_version") == "2";
        if (!coversMetadata) return Convert.ToHexStringLower(SHA256.HashData(data));
        var prefix = new MemoryStream();
        void Length(long n) => prefix.Write(BitConverter.GetBytes((ulong)n)); // little-endian on every supported machine
        void Utf8(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            Length(bytes.Length);
            prefix.Write(bytes);
        }
        foreach (var (key, value) in metadata.Where(p => p.Key != "sha256")
                     .OrderBy(p => Encoding.UTF8.GetBytes(p.Key), Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))))
        {
            Utf8(key);
            Utf8(value);
        }
        foreach (var (name, shape) in tensorsInFileOrder)
        {
            Utf8(name);
            Length(shape.Length);
            foreach (int d in shape) Length(d);
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(prefix.ToArray());
        hash.AppendData(data);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Writes tensors (in the given order) and metadata atomically (temp file in the same folder, then rename).
    /// Sets metadata "sha256" (<see cref="Sha256"/>: of everything for a format 2 Ser checkpoint, else of the data
    /// region). The header is space-padded to a multiple of 8 bytes.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, HostTensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var dataStream = new MemoryStream();
        var header = new JsonObject();
        var meta = new JsonObject();
        var entries = new List<(string, JsonObject)>();
        Span<byte> four = stackalloc byte[4];
        foreach (var (name, tensor) in list)
        {
            if (tensor.Data.Length != HostTensor.ElementCount(tensor.Shape))
                throw new ArgumentException($"tensor '{name}': {tensor.Data.Length} values for shape [{string.Join(",", tensor.Shape)}]");
            long begin = dataStream.Length;
            foreach (var v in tensor.Data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(four, v);
                dataStream.Write(four);
            }
            entries.Add((name, new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(tensor.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(begin, dataStream.Length),
            }));
        }
        byte[] data = dataStream.ToArray();

        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            meta[key] = value;
        var given = metadata ?? new Dictionary<string, string>();
        meta["sha256"] = Sha256(given, list.Select(t => (t.Key, t.Value.Shape)), data);
        header["__metadata__"] = meta;
        foreach (var (name, entry) in entries) header[name] = entry;

        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, file =>
        {
            Span<byte> size = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)padded);
            file.Write(size);
            file.Write(json);
            for (int i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
            file.Write(data);
        });
    }
}
