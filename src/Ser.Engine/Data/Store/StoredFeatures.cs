using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Ser.Engine.Data.Store;

/// <summary>How the store keeps each value: float32 (bit-exact) or float16 (half the disk and page cache).</summary>
public enum FeaturePrecision { Float16 = 2, Float32 = 4 }

/// <summary>
/// The feature store's file format, and a finished store file mapped read-only into memory. Legend: N items, T frames,
/// F bins. Little-endian throughout:
/// <code>
///   [0, 4096)      header: magic "SERFEAT1", format version, bytes per value (2 | 4), F, N, index offset and length
///                  (0 until the build finished), key (SHA-256), index checksum, header checksum
///   [4096, index)  N records in item order: item (int32), T (int32), payload checksum (uint64), then the payload
///                  [T, F] raw dB as float16 or float32, padded to 16 bytes (so every payload is 16-byte aligned)
///   [index, end)   N entries of 32 bytes: payload offset (int64), T, label, speaker, 0 (int32 each), checksum (uint64);
///                  then the metadata as UTF-8 JSON (classes, speakers, what the store holds)
/// </code>
/// A record is one checksummed block: a build appends records, so an interrupted build (the ".partial" file, header
/// without an index) resumes after its last whole record; the index and header are written last.
/// </summary>
public sealed unsafe class StoredFeatures : IDisposable
{
    internal const int HeaderBytes = 4096, RecordHeaderBytes = 16, EntryBytes = 32, FormatVersion = 1;
    internal static ReadOnlySpan<byte> Magic => "SERFEAT1"u8;

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _base;
    readonly long _length;
    readonly long[] _offsets;   // [N] payload offset
    readonly ulong[] _checksums; // [N]
    int _disposed;

    StoredFeatures(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, long length, StoreHeader header,
        long[] offsets, int[] frames, int[] labels, int[] speakers, ulong[] checksums, StoreMetadata meta)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
        _length = length;
        Header = header;
        _offsets = offsets;
        Frames = frames;
        Labels = labels;
        Speakers = speakers;
        _checksums = checksums;
        Metadata = meta;
    }

    public string Path { get; }
    internal StoreHeader Header { get; }
    public int Count => Header.Count;
    public int Bins => Header.Bins;
    public FeaturePrecision Precision => Header.Precision;
    public long FileBytes => _length;
    /// <summary>[N] T per item.</summary>
    public int[] Frames { get; }
    /// <summary>[N] class index (into <see cref="StoreMetadata.Classes"/>).</summary>
    public int[] Labels { get; }
    /// <summary>[N] speaker index (into <see cref="StoreMetadata.Speakers"/>).</summary>
    public int[] Speakers { get; }
    public StoreMetadata Metadata { get; }

    /// <summary>[T, F] of one item, in place in the mapped file (float32 stores only).</summary>
    public ReadOnlySpan<float> Float32(int item)
    {
        if (Precision != FeaturePrecision.Float32) throw new InvalidOperationException("a float16 store has no float32 view");
        return new ReadOnlySpan<float>(_base + _offsets[item], Frames[item] * Bins);
    }

    /// <summary>[T, F] of one item, in place in the mapped file (float16 stores only).</summary>
    public ReadOnlySpan<Half> Float16(int item)
    {
        if (Precision != FeaturePrecision.Float16) throw new InvalidOperationException("a float32 store has no float16 view");
        return new ReadOnlySpan<Half>(_base + _offsets[item], Frames[item] * Bins);
    }

    ReadOnlySpan<byte> Payload(int item) => new(_base + _offsets[item], Frames[item] * Bins * (int)Precision);

    /// <summary>Reads one byte of every page of the items' payloads, so the kernel pages them in before a batch needs them.</summary>
    public void Touch(ReadOnlySpan<int> items)
    {
        int sum = 0;
        foreach (int item in items)
        {
            var p = Payload(item);
            for (int i = 0; i < p.Length; i += 4096) sum += p[i];
        }
        GC.KeepAlive(sum);
    }

    /// <summary>Checks every block's checksum (in parallel); throws <see cref="StoreCorruptException"/> naming the first bad one.</summary>
    public void Verify(int maxParallelism = -1)
    {
        int bad = int.MaxValue;
        Parallel.For(0, Count, new ParallelOptions { MaxDegreeOfParallelism = maxParallelism }, i =>
        {
            if (XxHash64.HashToUInt64(Payload(i)) != _checksums[i])
                InterlockedMin(ref bad, i);
        });
        if (bad != int.MaxValue)
            throw new StoreCorruptException($"block of item {bad} ({Metadata.Ids.ElementAtOrDefault(bad)}) fails its checksum");
    }

    static void InterlockedMin(ref int target, int value)
    {
        int seen;
        while (value < (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    /// <summary>Maps a finished store; a short, torn or inconsistent file throws <see cref="StoreCorruptException"/>
    /// (block checksums are checked by <see cref="Verify"/>).</summary>
    public static StoredFeatures Open(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < HeaderBytes) throw new StoreCorruptException($"{length} bytes is shorter than the header");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            p += view.PointerOffset;
            var header = StoreHeader.Read(new ReadOnlySpan<byte>(p, HeaderBytes));
            if (header.IndexOffset == 0) throw new StoreCorruptException("the build did not finish (no index)");
            long indexEnd = header.IndexOffset + header.IndexLength;
            if (header.IndexOffset < HeaderBytes || indexEnd != length || header.IndexLength < (long)header.Count * EntryBytes)
                throw new StoreCorruptException($"index at {header.IndexOffset}+{header.IndexLength} does not end the {length}-byte file (truncated?)");
            var index = new ReadOnlySpan<byte>(p + header.IndexOffset, checked((int)header.IndexLength));
            if (XxHash64.HashToUInt64(index) != header.IndexChecksum) throw new StoreCorruptException("the index fails its checksum");

            int n = header.Count;
            var offsets = new long[n];
            var frames = new int[n];
            var labels = new int[n];
            var speakers = new int[n];
            var checksums = new ulong[n];
            for (int i = 0; i < n; i++)
            {
                var e = index.Slice(i * EntryBytes, EntryBytes);
                offsets[i] = BinaryPrimitives.ReadInt64LittleEndian(e);
                frames[i] = BinaryPrimitives.ReadInt32LittleEndian(e[8..]);
                labels[i] = BinaryPrimitives.ReadInt32LittleEndian(e[12..]);
                speakers[i] = BinaryPrimitives.ReadInt32LittleEndian(e[16..]);
                checksums[i] = BinaryPrimitives.ReadUInt64LittleEndian(e[24..]);
                if (frames[i] < 1 || offsets[i] < HeaderBytes || offsets[i] + (long)frames[i] * header.Bins * (int)header.Precision > header.IndexOffset)
                    throw new StoreCorruptException($"index entry {i} points outside the data");
            }
            var meta = JsonSerializer.Deserialize(index[(n * EntryBytes)..], StoreJson.Default.StoreMetadata)
                       ?? throw new StoreCorruptException("no metadata");
            return new StoredFeatures(path, map, view, p, length, header, offsets, frames, labels, speakers, checksums, meta);
        }
        catch (Exception e)
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            if (e is StoreCorruptException) throw;
            if (e is JsonException or OverflowException) throw new StoreCorruptException($"unreadable metadata ({e.Message})");
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}

/// <summary>A store file that cannot be used as it is (it gets rebuilt).</summary>
public sealed class StoreCorruptException(string message) : SerException(message);

/// <summary>What a store holds besides the numbers: class and speaker names (the index's label and speaker indices
/// point into them), utterance ids in item order, and a description of the corpus and front end.</summary>
public sealed record StoreMetadata(string Description, string[] Classes, string[] Speakers, string[] Ids);

[System.Text.Json.Serialization.JsonSerializable(typeof(StoreMetadata))]
internal sealed partial class StoreJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>The fixed-size header at the start of a store file (see <see cref="StoredFeatures"/>).</summary>
internal sealed record StoreHeader(FeaturePrecision Precision, int Bins, int Count, byte[] Key, long IndexOffset = 0, long IndexLength = 0,
    ulong IndexChecksum = 0)
{
    const int ChecksummedBytes = 96;

    public byte[] ToBytes()
    {
        var b = new byte[StoredFeatures.HeaderBytes];
        StoredFeatures.Magic.CopyTo(b);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), StoredFeatures.FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(12), (int)Precision);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), Bins);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(20), Count);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(24), IndexOffset);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(32), IndexLength);
        Key.CopyTo(b.AsSpan(40, 32));
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(72), IndexChecksum);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(ChecksummedBytes), XxHash64.HashToUInt64(b.AsSpan(0, ChecksummedBytes)));
        return b;
    }

    public static StoreHeader Read(ReadOnlySpan<byte> b)
    {
        if (b.Length < StoredFeatures.HeaderBytes || !b[..8].SequenceEqual(StoredFeatures.Magic))
            throw new StoreCorruptException("not a feature store (bad magic)");
        if (BinaryPrimitives.ReadUInt64LittleEndian(b[ChecksummedBytes..]) != XxHash64.HashToUInt64(b[..ChecksummedBytes]))
            throw new StoreCorruptException("the header fails its checksum");
        int version = BinaryPrimitives.ReadInt32LittleEndian(b[8..]);
        if (version != StoredFeatures.FormatVersion) throw new StoreCorruptException($"format version {version}, this build reads {StoredFeatures.FormatVersion}");
        var precision = (FeaturePrecision)BinaryPrimitives.ReadInt32LittleEndian(b[12..]);
        if (precision is not (FeaturePrecision.Float16 or FeaturePrecision.Float32)) throw new StoreCorruptException($"unknown precision {(int)precision}");
        return new StoreHeader(precision, BinaryPrimitives.ReadInt32LittleEndian(b[16..]), BinaryPrimitives.ReadInt32LittleEndian(b[20..]),
            b.Slice(40, 32).ToArray(), BinaryPrimitives.ReadInt64LittleEndian(b[24..]), BinaryPrimitives.ReadInt64LittleEndian(b[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(b[72..]));
    }

    public bool SameStore(StoreHeader other) =>
        Precision == other.Precision && Bins == other.Bins && Count == other.Count && Key.AsSpan().SequenceEqual(other.Key);
}

/// <summary>
/// Writes a store: <see cref="CreateOrResume"/> opens the ".partial" file (keeping its whole, checksummed records and
/// cutting a torn tail), <see cref="Append"/> adds items in order, <see cref="Finish"/> writes index and header and
/// flushes. The caller renames the finished file into place.
/// </summary>
internal sealed class StoreWriter : IDisposable
{
    readonly FileStream _file;
    readonly StoreHeader _header;
    readonly List<(long Offset, int Frames, ulong Checksum)> _records = [];
    byte[] _buffer = [];

    StoreWriter(FileStream file, StoreHeader header)
    {
        _file = file;
        _header = header;
    }

    /// <summary>Items already in the file (0..Done-1).</summary>
    public int Done => _records.Count;

    public static StoreWriter CreateOrResume(string partialPath, StoreHeader header)
    {
        var file = new FileStream(partialPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 20);
        var writer = new StoreWriter(file, header);
        try
        {
            writer.Recover();
        }
        catch
        {
            file.Dispose();
            throw;
        }
        return writer;
    }

    // Keeps the partial file's leading run of whole records whose item numbers follow on and whose checksums hold.
    void Recover()
    {
        var head = new byte[StoredFeatures.HeaderBytes];
        bool resumable = false;
        if (_file.Length >= StoredFeatures.HeaderBytes)
        {
            _file.Position = 0;
            _file.ReadExactly(head);
            try { resumable = StoreHeader.Read(head).SameStore(_header); }
            catch (StoreCorruptException) { }
        }
        long end = StoredFeatures.HeaderBytes;
        if (resumable)
        {
            var rh = new byte[StoredFeatures.RecordHeaderBytes];
            while (_records.Count < _header.Count && end + StoredFeatures.RecordHeaderBytes <= _file.Length)
            {
                _file.Position = end;
                _file.ReadExactly(rh);
                int item = BinaryPrimitives.ReadInt32LittleEndian(rh);
                int frames = BinaryPrimitives.ReadInt32LittleEndian(rh.AsSpan(4));
                ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(rh.AsSpan(8));
                long bytes = (long)frames * _header.Bins * (int)_header.Precision;
                long payload = end + StoredFeatures.RecordHeaderBytes;
                if (item != _records.Count || frames < 1 || payload + bytes > _file.Length) break;
                var data = Rent(bytes);
                _file.ReadExactly(data);
                if (XxHash64.HashToUInt64(data) != checksum) break;
                _records.Add((payload, frames, checksum));
                end = payload + Padded(bytes);
            }
        }
        else
        {
            _file.Position = 0;
            _file.Write(_header.ToBytes());
        }
        _file.SetLength(end);
        _file.Position = end;
    }

    Span<byte> Rent(long bytes)
    {
        if (_buffer.Length < bytes) _buffer = new byte[Padded(bytes)];
        return _buffer.AsSpan(0, (int)bytes);
    }

    static long Padded(long bytes) => (bytes + 15) & ~15L;

    /// <summary>Appends item <see cref="Done"/>: its raw dB [T, F].</summary>
    public void Append(ReadOnlySpan<float> features)
    {
        int f = _header.Bins;
        if (features.Length == 0 || features.Length % f != 0)
            throw new ArgumentException($"{features.Length} values is not a whole number of {f}-bin frames");
        if (Done >= _header.Count) throw new InvalidOperationException("the store is full");
        int frames = features.Length / f;
        long bytes = (long)features.Length * (int)_header.Precision;
        var data = Rent(Padded(bytes));
        data.Clear();
        var payload = data[..(int)bytes];
        if (_header.Precision == FeaturePrecision.Float32)
            MemoryMarshal.AsBytes(features).CopyTo(payload);
        else
            TensorPrimitives.ConvertToHalf(features, MemoryMarshal.Cast<byte, Half>(payload));
        ulong checksum = XxHash64.HashToUInt64(payload);
        Span<byte> rh = stackalloc byte[StoredFeatures.RecordHeaderBytes];
        BinaryPrimitives.WriteInt32LittleEndian(rh, Done);
        BinaryPrimitives.WriteInt32LittleEndian(rh[4..], frames);
        BinaryPrimitives.WriteUInt64LittleEndian(rh[8..], checksum);
        long offset = _file.Position + StoredFeatures.RecordHeaderBytes;
        _file.Write(rh);
        _file.Write(data);
        _records.Add((offset, frames, checksum));
    }

    /// <summary>Hands the records written so far to the operating system (a killed process then keeps them).</summary>
    public void Flush() => _file.Flush(flushToDisk: false);

    /// <summary>Writes the index (labels, speakers: [N] indices into the metadata's lists) and the header; flushes to disk.</summary>
    public void Finish(ReadOnlySpan<int> labels, ReadOnlySpan<int> speakers, StoreMetadata meta)
    {
        int n = _header.Count;
        if (Done != n) throw new InvalidOperationException($"{Done} of {n} items written");
        var json = JsonSerializer.SerializeToUtf8Bytes(meta, StoreJson.Default.StoreMetadata);
        var index = new byte[n * StoredFeatures.EntryBytes + json.Length];
        for (int i = 0; i < n; i++)
        {
            var e = index.AsSpan(i * StoredFeatures.EntryBytes, StoredFeatures.EntryBytes);
            BinaryPrimitives.WriteInt64LittleEndian(e, _records[i].Offset);
            BinaryPrimitives.WriteInt32LittleEndian(e[8..], _records[i].Frames);
            BinaryPrimitives.WriteInt32LittleEndian(e[12..], labels[i]);
            BinaryPrimitives.WriteInt32LittleEndian(e[16..], speakers[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(e[24..], _records[i].Checksum);
        }
        json.CopyTo(index.AsSpan(n * StoredFeatures.EntryBytes));
        long indexOffset = _file.Position;
        _file.Write(index);
        _file.Flush(flushToDisk: true);
        _file.Position = 0;
        _file.Write((_header with { IndexOffset = indexOffset, IndexLength = index.Length, IndexChecksum = XxHash64.HashToUInt64(index) }).ToBytes());
        _file.Flush(flushToDisk: true);
    }

    public void Dispose() => _file.Dispose();
}
