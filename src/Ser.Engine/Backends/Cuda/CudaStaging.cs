using System.Runtime.InteropServices;
using Ser.Native;

namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// Host-to-device copies that never make the host wait for the GPU. A copy from pageable (managed) memory may
/// synchronise with the stream (CUDA's documented behaviour for pageable transfers), so every upload goes through
/// page-locked memory instead:
/// <list type="bullet">
/// <item>small data (kernel arguments such as labels and loss weights, small tensors) through a ring of
/// <see cref="Segments"/> pinned segments with a device twin. A segment is reused only after the event recorded when
/// the ring left it has completed, which (stream order) is long after its copies ran - in practice never a wait;</item>
/// <item>large data (a batch's features, weights) through one pinned bulk buffer, reused after the event of its
/// previous copy: the host fills the next batch while the GPU still computes the last.</item>
/// </list>
/// A device pointer from <see cref="Push"/> is valid for work queued before the ring comes round to its segment
/// again, i.e. for the operation that pushed it.
/// </summary>
internal sealed unsafe class CudaStaging : IDisposable
{
    public const int Segments = 8;
    const int Align = 256;

    readonly CudaStream _stream;
    readonly long _segmentBytes;
    readonly CudaHostMemory _host;        // [Segments * segmentBytes] pinned
    readonly CudaDeviceMemory _device;    // [Segments * segmentBytes] its device twin
    readonly CudaEvent[] _left = new CudaEvent[Segments];
    readonly bool[] _pending = new bool[Segments];
    int _segment;
    long _offset;
    CudaHostMemory? _bulk;
    readonly CudaEvent _bulkDone;
    bool _bulkPending;

    public CudaStaging(CudaStream stream, long segmentBytes = 256 << 10)
    {
        _stream = stream;
        _segmentBytes = segmentBytes;
        _host = CudaHostMemory.Allocate(Segments * segmentBytes);
        _device = CudaArena.AllocateDevice("staging ring", Segments * segmentBytes);
        for (int i = 0; i < Segments; i++) _left[i] = CudaEvent.Create(CudaNative.EventDisableTiming);
        _bulkDone = CudaEvent.Create(CudaNative.EventDisableTiming);
    }

    /// <summary>Device bytes this object holds.</summary>
    public long DeviceBytes => _device.Bytes;

    /// <summary>Largest copy that goes through the ring; larger ones use the bulk buffer.</summary>
    public long SmallLimit => _segmentBytes / 2;

    /// <summary>Copies data to a fresh place in device memory (queued) and returns its address.</summary>
    public ulong Push<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(data);
        if (bytes.Length > SmallLimit)
            throw new ArgumentException($"{bytes.Length} bytes is too large for the staging ring ({SmallLimit})");
        long at = Reserve(bytes.Length);
        bytes.CopyTo(new Span<byte>((byte*)_host.Value + at, bytes.Length));
        ulong dst = _device.Pointer + (ulong)at;
        if (bytes.Length > 0)
            CudaDriver.Check(CudaNative.cuMemcpyHtoDAsync_v2(dst, (byte*)_host.Value + at, (nuint)bytes.Length, _stream.Value));
        return dst;
    }

    /// <summary>Queues a copy of data to device address dst; returns without waiting for the GPU.</summary>
    public void Upload(ReadOnlySpan<byte> data, ulong dst)
    {
        if (data.IsEmpty) return;
        if (data.Length <= SmallLimit)
        {
            long at = Reserve(data.Length);
            data.CopyTo(new Span<byte>((byte*)_host.Value + at, data.Length));
            CudaDriver.Check(CudaNative.cuMemcpyHtoDAsync_v2(dst, (byte*)_host.Value + at, (nuint)data.Length, _stream.Value));
            return;
        }
        // The bulk buffer grows to the largest copy up to BulkLimit and stays (pinned memory is scarce: a one-off huge
        // upload must not keep hundreds of MB pinned); larger copies go through it in BulkLimit chunks. It is refilled
        // only once its previous copy has run (normally long done).
        if (_bulk is null || (_bulk.Bytes < data.Length && _bulk.Bytes < BulkLimit))
        {
            long size = Math.Min(BulkLimit, Math.Max(data.Length, (_bulk?.Bytes ?? 0) * 2));
            if (_bulkPending) _bulkDone.Synchronize();
            _bulkPending = false;
            _bulk?.Dispose();
            _bulk = null;
            _bulk = CudaHostMemory.Allocate(size);
        }
        for (int at = 0; at < data.Length; at += (int)_bulk.Bytes)
        {
            var chunk = data.Slice(at, (int)Math.Min(_bulk.Bytes, data.Length - at));
            if (_bulkPending) _bulkDone.Synchronize();
            chunk.CopyTo(new Span<byte>((void*)_bulk.Value, chunk.Length));
            CudaDriver.Check(CudaNative.cuMemcpyHtoDAsync_v2(dst + (ulong)at, (void*)_bulk.Value, (nuint)chunk.Length, _stream.Value));
            _bulkDone.Record(_stream);
            _bulkPending = true;
        }
    }

    /// <summary>The most pinned bytes the bulk buffer keeps.</summary>
    public const long BulkLimit = 16L << 20;

    /// <summary>Byte offset of a free, aligned range in the ring (moving to the next segment when needed).</summary>
    long Reserve(int bytes)
    {
        long start = (_offset + Align - 1) / Align * Align;
        if (start + bytes > _segmentBytes)
        {
            _left[_segment].Record(_stream);
            _pending[_segment] = true;
            _segment = (_segment + 1) % Segments;
            if (_pending[_segment])
            {
                _left[_segment].Synchronize();
                _pending[_segment] = false;
            }
            start = 0;
        }
        _offset = start + bytes;
        return _segment * _segmentBytes + start;
    }

    public void Dispose()
    {
        _host.Dispose();
        _device.Dispose();
        _bulk?.Dispose();
        foreach (var e in _left) e.Dispose();
        _bulkDone.Dispose();
    }
}

/// <summary>
/// Device copies of per-sample length arrays, for kernels and cuDNN (which wants them in device memory). A training
/// step passes the same few arrays (one per pooling level) to many operations, so copies are cached by content in
/// <see cref="Slots"/> slots, least recently used replaced; a slot's pinned host side is rewritten only after the
/// event of its previous copy. Stream order keeps every queued reader of a slot ahead of its next overwrite.
/// </summary>
internal sealed unsafe class CudaLengthCache : IDisposable
{
    public const int Slots = 16;

    readonly CudaStream _stream;
    int _capacity;                        // ints per slot
    CudaHostMemory _host;                 // [Slots, capacity] pinned
    CudaDeviceMemory _device;             // [Slots, capacity]
    readonly CudaEvent[] _copied = new CudaEvent[Slots];
    readonly bool[] _pending = new bool[Slots];
    readonly int[] _count = new int[Slots];
    readonly long[] _used = new long[Slots];
    long _clock;
    int _last = -1;

    public CudaLengthCache(CudaStream stream, int capacity = 256)
    {
        _stream = stream;
        _capacity = capacity;
        _host = CudaHostMemory.Allocate((long)Slots * capacity * sizeof(int));
        _device = CudaArena.AllocateDevice("lengths", (long)Slots * capacity * sizeof(int));
        for (int i = 0; i < Slots; i++) _copied[i] = CudaEvent.Create(CudaNative.EventDisableTiming);
        Array.Fill(_count, -1);
    }

    public long DeviceBytes => _device.Bytes;

    /// <summary>The device address of an int array equal to <paramref name="lengths"/> (queued copy if new).</summary>
    public ulong Get(ReadOnlySpan<int> lengths)
    {
        if (lengths.Length > _capacity) Grow(lengths.Length);
        if (_last >= 0 && Matches(_last, lengths)) return Hit(_last);
        int victim = 0;
        for (int s = 0; s < Slots; s++)
        {
            if (Matches(s, lengths)) return Hit(s);
            if (_used[s] < _used[victim]) victim = s;
        }
        if (_pending[victim]) _copied[victim].Synchronize();
        lengths.CopyTo(HostSlot(victim));
        _count[victim] = lengths.Length;
        ulong dst = DeviceSlot(victim);
        if (lengths.Length > 0)
            CudaDriver.Check(CudaNative.cuMemcpyHtoDAsync_v2(dst, (int*)_host.Value + (long)victim * _capacity,
                (nuint)(lengths.Length * sizeof(int)), _stream.Value));
        _copied[victim].Record(_stream);
        _pending[victim] = true;
        return Hit(victim);
    }

    bool Matches(int slot, ReadOnlySpan<int> lengths) =>
        _count[slot] == lengths.Length && HostSlot(slot)[..lengths.Length].SequenceEqual(lengths);

    ulong Hit(int slot)
    {
        _used[slot] = ++_clock;
        _last = slot;
        return DeviceSlot(slot);
    }

    Span<int> HostSlot(int slot) => new((int*)_host.Value + (long)slot * _capacity, _capacity);
    ulong DeviceSlot(int slot) => _device.Pointer + (ulong)((long)slot * _capacity * sizeof(int));

    // Rare (a batch larger than any before): wait for queued readers, then reallocate empty.
    void Grow(int needed)
    {
        _stream.Synchronize();
        _capacity = Math.Max(needed, 2 * _capacity);
        _host.Dispose();
        _device.Dispose();
        _host = CudaHostMemory.Allocate((long)Slots * _capacity * sizeof(int));
        _device = CudaArena.AllocateDevice("lengths", (long)Slots * _capacity * sizeof(int));
        Array.Fill(_count, -1);
        Array.Clear(_pending);
        _last = -1;
    }

    public void Dispose()
    {
        _host.Dispose();
        _device.Dispose();
        foreach (var e in _copied) e.Dispose();
    }
}
