using Ser.Engine.Backends.Cuda;

namespace Ser.Native.Tests;

/// <summary>Driver API smoke tests: device, memory, events, NVRTC kernels, graphs. Skip without a GPU.</summary>
[Collection("Gpu")]
public class CudaDriverTests
{
    const string Saxpy = """
        extern "C" __global__ void saxpy(float a, const float* __restrict__ x, float* __restrict__ y, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n) y[i] = a * x[i] + y[i];
        }
        """;

    [Fact]
    public void Device_reports_name_memory_compute_capability_and_every_library()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        Assert.False(string.IsNullOrWhiteSpace(d.Name));
        Assert.True(d.TotalMemoryBytes > 1L << 30, $"{d.TotalMemoryBytes} bytes");
        Assert.True(d.ComputeMajor >= 7, $"compute capability {d.ComputeMajor}.{d.ComputeMinor}");
        var report = CudaRuntimeInfo.Probe();
        Assert.True(report.Complete, string.Join("; ", report.Libraries.Where(l => !l.Loaded).Select(l => l.Problem)));
        Assert.All(report.Libraries, l => Assert.NotNull(l.Version));
    }

    [Fact]
    public unsafe void Memory_round_trips_through_host_device_copies_and_memset()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        float[] host = Enumerable.Range(0, 1000).Select(i => i * 0.5f - 7).ToArray();
        using var a = d.Upload<float>(host);
        using var b = d.Allocate<float>(1000);
        CudaDriver.Check(CudaNative.cuMemcpyDtoDAsync_v2(b.Pointer, a.Pointer, 1000 * sizeof(float), d.Stream.Value));
        CudaDriver.Check(CudaNative.cuMemsetD32Async(b.Pointer + 100 * sizeof(float), BitConverter.SingleToUInt32Bits(3.25f), 10, d.Stream.Value));
        float[] back = d.Download<float>(b, 1000);

        float[] expected = (float[])host.Clone();
        Array.Fill(expected, 3.25f, 100, 10);
        Assert.Equal(expected, back);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.CopyFrom<float>(new float[1001], d.Stream));
    }

    [Fact]
    public void Events_time_device_work()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        d.MakeCurrent();
        using var big = d.Allocate<byte>(256 << 20);
        using var start = CudaEvent.Create();
        using var end = CudaEvent.Create();
        start.Record(d.Stream);
        for (int i = 0; i < 4; i++)
            big.Clear(d.Stream);
        end.Record(d.Stream);
        float ms = CudaEvent.ElapsedMilliseconds(start, end);
        Assert.InRange(ms, 0.001f, 10_000f);
    }

    [Fact]
    public unsafe void Nvrtc_compiles_a_kernel_that_matches_the_cpu_and_caches_it_on_disk()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        const int n = 10_007;
        float[] x = TestSignals.Uniform(n, 1), y = TestSignals.Uniform(n, 2);
        using var dx = d.Upload<float>(x);
        using var dy = d.Upload<float>(y);
        nint saxpy = d.LoadModule(Saxpy, "saxpy.cu").GetFunction("saxpy");

        float a = 1.75f;
        ulong px = dx.Pointer, py = dy.Pointer;
        int count = n;
        void** args = stackalloc void*[] { &a, &px, &py, &count };
        d.Launch(saxpy, new Dim3((n + 255) / 256), new Dim3(256), args);
        float[] got = d.Download<float>(dy, n);

        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(got[i] - (a * (double)x[i] + y[i])) <= 1e-6, $"y[{i}] = {got[i]}");
        string ext = d.KernelTarget.StartsWith("sm_", StringComparison.Ordinal) ? "*.cubin" : "*.ptx";
        Assert.NotEmpty(Directory.GetFiles(d.KernelCache.Directory, ext));
        Assert.Same(d.LoadModule(Saxpy, "saxpy.cu"), d.LoadModule(Saxpy, "saxpy.cu"));
    }

    [Fact]
    public void Nvrtc_compile_errors_carry_the_compiler_log()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var e = Assert.Throws<NvrtcException>(() =>
            NvrtcCompiler.Compile("extern \"C\" __global__ void broken(float* x) { x[0] = undefined_name; }", "broken.cu", Gpu.Device.KernelTarget, []));
        Assert.Equal(NvrtcResult.ErrorCompilation, e.Status);
        Assert.Contains("undefined_name", e.Log);
        Assert.Contains("broken.cu", e.Message);
    }

    [Fact]
    public unsafe void A_captured_graph_replays_the_kernel()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        const int n = 4096;
        float[] x = TestSignals.Uniform(n, 3), y = TestSignals.Uniform(n, 4);
        using var dx = d.Upload<float>(x);
        using var dy = d.Upload<float>(y);
        nint saxpy = d.LoadModule(Saxpy, "saxpy.cu").GetFunction("saxpy");
        d.Synchronize();

        float a = 0.5f;
        ulong px = dx.Pointer, py = dy.Pointer;
        int count = n;
        void** args = stackalloc void*[] { &a, &px, &py, &count };
        CudaGraph.BeginCapture(d.Stream);
        d.Launch(saxpy, new Dim3(n / 256), new Dim3(256), args);
        using var graph = CudaGraph.EndCapture(d.Stream);
        using var exec = graph.Instantiate();
        for (int i = 0; i < 3; i++)
            exec.Launch(d.Stream);
        float[] got = d.Download<float>(dy, n);

        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(got[i] - (y[i] + 3 * a * (double)x[i])) <= 1e-5, $"y[{i}] = {got[i]}");
    }
}
