using System.Text.Json;
using Ser.Native;
using Ser.Tool.Commands;

namespace Ser.Tool.Tests;

public class DeviceCommandTests
{
    static bool DriverPresent => LibraryLocator.Default.Resolve(CudaLibrary.Driver).Loaded;

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
        }
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
        }
    }

    [Fact]
    public void Require_gpu_turns_an_incomplete_setup_into_exit_code_3()
    {
        Assert.SkipWhen(CudaRuntimeInfo.Probe().Complete, "this machine has a complete GPU setup");
        Assert.Equal(DeviceCommand.IncompleteExitCode, new DeviceCommand { RequireGpu = true }.Run(new StringWriter()));
    }

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
    public void Frontend_bench_on_cuda_without_a_gpu_is_a_one_line_error()
    {
        Assert.SkipWhen(DriverPresent, "libcuda.so.1 is installed here");
        Assert.Equal(1, Program.Main(["frontend-bench", "--device", "cuda", "--hours", "0.001"]));
    }
}
