using Ser.Engine.Backends.Cuda;
using Ser.Native;

namespace Ser.Engine.Tests.Cuda;

/// <summary>
/// How a device arena is released, against a fake device that records calls (no GPU needed): the wait for the stream
/// runs with the device's context pushed (a Dispose may run on a thread with no current context), a failed wait is
/// reported, and the block is freed after the wait, also when the wait failed.
/// </summary>
public class CudaArenaTests
{
    sealed class RecordingDevice : IArenaDevice
    {
        public readonly List<string> Calls = [];
        public Exception? SynchronizeFails;

        public (ulong Pointer, IDisposable Owner) Allocate(string name, long bytes)
        {
            Calls.Add($"allocate {bytes}");
            return (0x7000_0000, new Scope(() => Calls.Add("free")));
        }

        public IDisposable PushContext()
        {
            Calls.Add("push");
            return new Scope(() => Calls.Add("pop"));
        }

        public void Synchronize()
        {
            Calls.Add("synchronize");
            if (SynchronizeFails is not null) throw SynchronizeFails;
        }

        sealed class Scope(Action onDispose) : IDisposable
        {
            public void Dispose() => onDispose();
        }
    }

    [Fact]
    public void Dispose_waits_for_the_stream_inside_the_pushed_context_then_frees()
    {
        var device = new RecordingDevice();
        long released = 0;
        var arena = new CudaArena("activations", 10, sizeof(float), device, bytes => released += bytes);
        Assert.Equal(0x7000_0000UL, arena.Pointer);
        arena.Dispose();
        Assert.Equal(["allocate 40", "push", "synchronize", "pop", "free"], device.Calls);
        Assert.Equal(40, released);
        Assert.Throws<ObjectDisposedException>(() => arena.Pointer);
    }

    [Fact]
    public void A_failed_wait_is_thrown_and_the_block_is_still_freed_once()
    {
        var device = new RecordingDevice { SynchronizeFails = new CudaException(CudaResult.ErrorIllegalAddress, "cuStreamSynchronize(stream)") };
        long released = 0;
        var arena = new CudaArena("workspace", 4, sizeof(float), device, bytes => released += bytes);
        var e = Assert.Throws<CudaException>(arena.Dispose);
        Assert.Equal(CudaResult.ErrorIllegalAddress, e.Status);
        Assert.Equal(["allocate 16", "push", "synchronize", "pop", "free"], device.Calls);
        Assert.Equal(16, released);
        arena.Dispose(); // nothing more to do
        Assert.Equal(5, device.Calls.Count);
    }
}
