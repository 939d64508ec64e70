using System.Text.Json;
using Ser.Native;
using Ser.Tool.Commands;

namespace Ser.Tool.Tests;

/// <summary>
/// `sertool device` on either kind of machine: without a driver it must say so and how to fix it; with one it must show
/// what the driver itself reports (asked directly here, not through the command's probe).
/// </summary>
public class DeviceCommandTests
{
    static bool DriverPresent => LibraryLocator.Default.Resolve(CudaLibrary.Driver).Loaded;

    /// <summary>The driver's own answer: (name, total memory) of each CUDA device; empty if cuInit fails.</summary>
    static unsafe List<(string Name, long Bytes)> DriverGpus()
    {
        var gpus = new List<(string, long)>();
        if (CudaNative.cuInit(0) != CudaResult.Success) return gpus;
        int count;
        CudaDriver.Check(CudaNative.cuDeviceGetCount(&count));
        byte* name = stackalloc byte[256];
        for (int i = 0; i < count; i++)
        {
            int dev;
            nuint bytes;
            CudaDriver.Check(CudaNative.cuDeviceGet(&dev, i));
            CudaDriver.Check(CudaNative.cuDeviceGetName(name, 256, dev));
            CudaDriver.Check(CudaNative.cuDeviceTotalMem_v2(&bytes, dev));
            gpus.Add((System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)name)!, (long)bytes));
        }
        return gpus;
    }

    [Fact]
    public void Device_report_exits_zero_and_without_a_gpu_says_so_and_how_to_point_ser_at_the_libraries()
    {
        var output = new StringWriter();
        Assert.Equal(0, new DeviceCommand().Run(output));
        string text = output.ToString();
        Assert.Contains("Ser CUDA device report", text);
        foreach (string library in new[] { "CUDA driver", "NVRTC", "cuBLAS", "cuDNN", "cuFFT" })
            Assert.Contains(library, text);
        if (!DriverPresent)
        {
            Assert.Contains("no GPU", text);
            Assert.Contains("libcuda.so.1", text);
            Assert.Contains("SER_CUDA_LIB_DIR", text);
            return;
        }
        var gpus = DriverGpus();
        Assert.NotEmpty(gpus); // a driver on a machine without a device is not a GPU machine: say so by failing
        Assert.DoesNotContain("no GPU", text);
        foreach (var (name, _) in gpus) Assert.Contains(name, text);
        Assert.Matches(@"CUDA driver version: \d+\.\d+", text);
    }

    [Fact]
    public void Without_a_gpu_the_report_is_short_and_does_not_send_the_user_to_itself()
    {
        Assert.SkipWhen(CudaRuntimeInfo.Probe().GpuAvailable, "this machine has a GPU: the full report is printed");
        var output = new StringWriter();
        Assert.Equal(0, new DeviceCommand().Run(output));
        string[] lines = output.ToString().TrimEnd().Split('\n');
        Assert.True(lines.Length <= 15, $"{lines.Length} lines:\n{output}");
        Assert.DoesNotContain("sertool device", output.ToString());
        Assert.Contains(lines, l => l.StartsWith("Libraries: ", StringComparison.Ordinal) && l.Contains("cuFFT"));
    }

    [Fact]
    public void Json_report_is_valid_and_lists_every_library()
    {
        var output = new StringWriter();
        Assert.Equal(0, new DeviceCommand { Json = true }.Run(output));
        using var json = JsonDocument.Parse(output.ToString());
        var root = json.RootElement;
        Assert.Equal(5, root.GetProperty("libraries").GetArrayLength());
        Assert.Equal(root.GetProperty("gpus").GetArrayLength() > 0, root.GetProperty("gpuAvailable").GetBoolean());
        if (!DriverPresent)
        {
            Assert.False(root.GetProperty("gpuAvailable").GetBoolean());
            Assert.Contains("libcuda.so.1", root.GetProperty("gpuProblem").GetString());
            return;
        }
        var gpus = DriverGpus();
        Assert.True(root.GetProperty("gpuAvailable").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("gpuProblem").ValueKind);
        var reported = root.GetProperty("gpus").EnumerateArray().ToList();
        Assert.Equal(gpus.Count, reported.Count);
        for (int i = 0; i < gpus.Count; i++)
        {
            Assert.Equal(i, reported[i].GetProperty("ordinal").GetInt32());
            Assert.Equal(gpus[i].Name, reported[i].GetProperty("name").GetString());
            Assert.Equal(gpus[i].Bytes, reported[i].GetProperty("totalMemoryBytes").GetInt64());
            Assert.Matches(@"^\d+\.\d+$", reported[i].GetProperty("computeCapability").GetString());
            Assert.True(reported[i].GetProperty("multiprocessors").GetInt32() > 0);
        }
        foreach (var library in root.GetProperty("libraries").EnumerateArray())
            if (library.GetProperty("loaded").GetBoolean())
                Assert.True(File.Exists(library.GetProperty("path").GetString()), library.ToString());
    }

    [Fact]
    public void Require_gpu_exits_3_exactly_when_a_gpu_or_a_library_is_missing()
    {
        // Decided from the locator and the driver directly, not from the command's own probe.
        bool complete = DriverGpus_IfDriverPresent().Count > 0
                        && Enum.GetValues<CudaLibrary>().All(l => LibraryLocator.Default.Resolve(l).Loaded);
        Assert.Equal(complete ? 0 : DeviceCommand.IncompleteExitCode, new DeviceCommand { RequireGpu = true }.Run(new StringWriter()));
    }

    static List<(string Name, long Bytes)> DriverGpus_IfDriverPresent() => DriverPresent ? DriverGpus() : [];

    [Fact]
    public void Device_verb_runs_from_the_command_line()
    {
        Assert.Equal(0, Program.Main(["device", "--json"]));
    }

    [Fact]
    public void Frontend_bench_refuses_bad_options_with_a_one_line_error()
    {
        Assert.Equal(1, Program.Main(["frontend-bench", "--device", "tpu"]));
        Assert.Equal(1, Program.Main(["frontend-bench", "--hours", "-1"]));
    }

    [Fact]
    public void Frontend_bench_on_cuda_runs_on_a_gpu_and_is_a_one_line_error_without_one()
    {
        // Without a GPU: exit 1 (bad input: the device asked for is not there). With one: the bench runs, exit 0.
        int expected = DriverGpus_IfDriverPresent().Count > 0 ? 0 : 1;
        Assert.Equal(expected, Program.Main(["frontend-bench", "--device", "cuda", "--hours", "0.001", "--repeat", "1", "--batch", "4"]));
    }
}
