using System.Text.Json;
using CommandLine;
using Ser.Native;
using Ser.Tool.Progress;
using Spectre.Console;

namespace Ser.Tool.Commands;

/// <summary>
/// `sertool device`: what CUDA setup Ser sees. Exit code 0 whenever the report is produced, with or
/// without a GPU (a missing GPU is information, not an error); with --require-gpu, 3 when no GPU with
/// every library is usable, so scripts can branch on it.
/// </summary>
[Verb("device", HelpText = "Report the GPU, CUDA driver and CUDA libraries (NVRTC, cuBLAS, cuDNN, cuFFT) Ser would use, and how to point Ser at them. Exit code 0 when the report is produced (also without a GPU); with --require-gpu, 3 when the GPU setup is incomplete.")]
internal sealed class DeviceCommand : ICommand
{
    public const int IncompleteExitCode = 3;

    [Option("json", HelpText = "Print the report as JSON.")]
    public bool Json { get; set; }

    [Option("require-gpu", HelpText = "Exit with code 3 unless a GPU and every CUDA library are usable.")]
    public bool RequireGpu { get; set; }

    public int Run() => Run(Console.Out, interactive: !Console.IsOutputRedirected);

    internal int Run(TextWriter output, bool interactive = false)
    {
        CudaRuntimeReport report = CudaRuntimeInfo.Probe();
        if (Json)
            WriteJson(report, output);
        else
            WriteTable(report, output, interactive);
        return RequireGpu && !report.Complete ? IncompleteExitCode : 0;
    }

    static void WriteTable(CudaRuntimeReport report, TextWriter output, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!interactive)
            console.Profile.Width = ToolConsole.RedirectedWidth;

        console.WriteLine("Ser CUDA device report");
        if (!report.GpuAvailable)
        {
            WriteShort(report, console);
            return;
        }
        var gpus = new Table().AddColumns("GPU", "Name", "Compute capability", "Memory", "SMs");
        foreach (var g in report.Gpus)
            gpus.AddRow(g.Ordinal.ToString(), Markup.Escape(g.Name), g.ComputeCapability, $"{g.TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB", g.Multiprocessors.ToString());
        console.Write(gpus);
        console.WriteLine($"CUDA driver version: {report.DriverVersion ?? "-"}");

        var libs = new Table().AddColumns("Library", "Status", "Version", "Path");
        foreach (var l in report.Libraries)
            libs.AddRow(l.Name, l.Loaded ? "found" : "MISSING", Markup.Escape(l.Version ?? "-"), Markup.Escape(l.Path ?? "-"));
        console.Write(libs);
        if (report.CudnnCudartVersion is { } cudart)
            console.WriteLine(report.CudaMajorProblem ?? $"CUDA major: cuDNN was built for CUDA {cudart / 1000}.{cudart % 1000 / 10}; NVRTC, cuBLAS and cuFFT are of the same major");

        foreach (var l in report.Libraries.Where(l => !l.Loaded))
            console.WriteLine($"{l.Name}: {l.Problem}");
        foreach (string hint in report.Hints)
            console.WriteLine(hint);
        console.WriteLine($"Kernel cache: {KernelCache.DefaultDirectory()} (override with {KernelCache.DirectoryVariable})");
    }

    /// <summary>
    /// Without a GPU the report is a few lines: what is missing, where Ser looked and how to point it elsewhere. Each
    /// library's full search story (<see cref="LibraryInfo.Problem"/>) is in --json.
    /// </summary>
    static void WriteShort(CudaRuntimeReport report, IAnsiConsole console)
    {
        console.WriteLine($"GPU: {report.GpuProblem ?? "no GPU"}");
        console.WriteLine("Libraries: " + string.Join(", ", report.Libraries.Select(l =>
            l.Loaded ? $"{l.Name} {l.Version ?? "found"} ({l.Path})" : $"{l.Name} missing")));
        var searched = LibraryLocator.Default.SearchLocations(CudaLibrary.Nvrtc)
            .Where(s => s.Directory is null || Directory.Exists(s.Directory)).Select(s => s.Label);
        console.WriteLine($"Searched (CUDA libraries): {string.Join("; ", searched)}");
        foreach (string hint in report.Hints)
            console.WriteLine(hint);
        console.WriteLine($"Kernel cache: {KernelCache.DefaultDirectory()} (override with {KernelCache.DirectoryVariable})");
    }

    static void WriteJson(CudaRuntimeReport report, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteBoolean("gpuAvailable", report.GpuAvailable);
            json.WriteBoolean("complete", report.Complete);
            json.WriteString("gpuProblem", report.GpuProblem);
            json.WriteString("driverVersion", report.DriverVersion);
            json.WriteStartArray("gpus");
            foreach (var g in report.Gpus)
            {
                json.WriteStartObject();
                json.WriteNumber("ordinal", g.Ordinal);
                json.WriteString("name", g.Name);
                json.WriteString("computeCapability", g.ComputeCapability);
                json.WriteNumber("totalMemoryBytes", g.TotalMemoryBytes);
                json.WriteNumber("multiprocessors", g.Multiprocessors);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("libraries");
            foreach (var l in report.Libraries)
            {
                json.WriteStartObject();
                json.WriteString("library", l.Name);
                json.WriteBoolean("loaded", l.Loaded);
                json.WriteString("path", l.Path);
                json.WriteString("version", l.Version);
                json.WriteString("problem", l.Problem);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("hints");
            foreach (string h in report.Hints)
                json.WriteStringValue(h);
            json.WriteEndArray();
            if (report.CudnnCudartVersion is { } cudart) json.WriteNumber("cudnnCudartVersion", cudart);
            else json.WriteNull("cudnnCudartVersion");
            json.WriteString("cudaMajorProblem", report.CudaMajorProblem);
            json.WriteString("kernelCache", KernelCache.DefaultDirectory());
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
