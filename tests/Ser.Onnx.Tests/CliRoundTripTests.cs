using System.Diagnostics;
using System.Text.Json;
using Ser.Engine.Audio;

namespace Ser.Onnx.Tests;

/// <summary>
/// `sertool export` and `sertool predict --json` as separate processes (the built sertool, which carries no ONNX
/// Runtime), against the Node client tools/onnx-node/predict.mjs on onnxruntime-node: the same JSON within 1e-4.
/// </summary>
public sealed class CliRoundTripTests(ITestOutputHelper output) : IDisposable
{
    readonly ModelFolder _models = new();

    public void Dispose() => _models.Dispose();

    static readonly string Root = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ser.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Ser.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>sertool.dll of the same configuration as these tests (bin/CONFIG/net10.0), built by the solution.</summary>
    static string Sertool()
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string built = Path.Combine(Root, "src", "Ser.Tool", "bin", tfm.Parent!.Name, tfm.Name, "sertool.dll");
        return File.Exists(built) ? built : Path.Combine(AppContext.BaseDirectory, "sertool.dll");
    }

    static (int Code, string Out, string Err) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    static (int Code, string Out, string Err) Sertool(params string[] args) => Run("dotnet", [Sertool(), .. args]);

    [Fact]
    public void Sertool_does_not_carry_onnx_runtime()
    {
        string bin = Path.GetDirectoryName(Sertool())!;
        Assert.True(File.Exists(Path.Combine(bin, "sertool.dll")));
        var carried = Directory.EnumerateFiles(bin, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).Contains("onnxruntime", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(carried.Count == 0, $"sertool's output holds ONNX Runtime: {string.Join(", ", carried)}");
    }

    [Fact]
    public void Export_verb_writes_a_model_and_refuses_bad_options()
    {
        string ckpt = _models.Save("small");
        string onnx = Path.Combine(_models.Dir, "m.onnx");
        var (code, stdout, stderr) = Sertool("export", "--model", ckpt, "--out", onnx);
        Assert.True(code == 0, stderr);
        Assert.Contains("opset 17", stdout);
        using (var model = new OrtModel(onnx)) Assert.Equal("pcm", model.Metadata["ser.input"]);

        (code, _, stderr) = Sertool("export", "--model", ckpt, "--out", Path.Combine(_models.Dir, "f.onnx"), "--input", "features");
        Assert.True(code == 0, stderr);
        using (var model = new OrtModel(Path.Combine(_models.Dir, "f.onnx"))) Assert.Equal(["features"], model.Session.InputMetadata.Keys);

        (code, _, stderr) = Sertool("export", "--model", ckpt, "--input", "mel");
        Assert.Equal(1, code);
        Assert.Contains("sertool: error: --input: expected pcm or features", stderr);
        (code, _, stderr) = Sertool("export", "--model", Path.Combine(_models.Dir, "missing.ser"));
        Assert.Equal(1, code);
        Assert.Contains("model file not found", stderr);
    }

    [Fact]
    public void Node_client_prints_what_sertool_predict_prints()
    {
        string nodeDir = Path.Combine(Root, "tools", "onnx-node");
        if (!Directory.Exists(Path.Combine(nodeDir, "node_modules", "onnxruntime-node")))
        {
            // CI installs it (.ci/run); there, a missing install is a failure, not a skip.
            Assert.False(Environment.GetEnvironmentVariable("CI") == "true", "onnxruntime-node is not installed in tools/onnx-node (npm ci)");
            Assert.Skip("onnxruntime-node is not installed: run `npm ci --prefix tools/onnx-node`");
        }

        string ckpt = _models.Save("small", temperature: "1.4", seed: 21);
        string onnx = Path.Combine(_models.Dir, "node.onnx");
        var export = Sertool("export", "--model", ckpt, "--out", onnx);
        Assert.True(export.Code == 0, export.Err);

        var wavs = new List<string>();
        int[] lengths = [400, 8_000, 40_000, 123_457];
        for (int i = 0; i < lengths.Length; i++)
        {
            string wav = Path.Combine(_models.Dir, $"u{i}.wav");
            var pcm = Signals.Noise(300 + i, lengths[i], 0.1f + 0.2f * i);
            if (i % 2 == 0) WavWriter.WriteMono16(wav, pcm, 16000);
            else WavWriter.WriteMonoFloat32(wav, pcm, 16000);
            wavs.Add(wav);
        }

        var predict = Sertool(["predict", "--model", ckpt, "--json", .. wavs]);
        Assert.True(predict.Code == 0, predict.Err);
        var node = Run("node", [Path.Combine(nodeDir, "predict.mjs"), onnx, .. wavs]);
        Assert.True(node.Code == 0, node.Err);

        using var expected = JsonDocument.Parse(predict.Out);
        using var actual = JsonDocument.Parse(node.Out);
        Assert.Equal(expected.RootElement.GetProperty("labels").ToString(), actual.RootElement.GetProperty("labels").ToString());
        var e = expected.RootElement.GetProperty("results").EnumerateArray().ToList();
        var a = actual.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(wavs.Count, a.Count);
        double worst = 0;
        for (int i = 0; i < wavs.Count; i++)
        {
            Assert.Equal(e[i].GetProperty("file").GetString(), a[i].GetProperty("file").GetString());
            Assert.Equal(e[i].GetProperty("seconds").GetDouble(), a[i].GetProperty("seconds").GetDouble(), 1e-9);
            foreach (var label in ModelFolder.Labels)
            {
                double d = Math.Abs(e[i].GetProperty("probabilities").GetProperty(label).GetDouble()
                                    - a[i].GetProperty("probabilities").GetProperty(label).GetDouble());
                worst = Math.Max(worst, d);
                Assert.True(d <= 1e-4, $"{wavs[i]} {label}: sertool and the Node client differ by {d:E2}");
            }
            // the label is the arg-max of probabilities that agree to 1e-4; it may only differ on a near-tie
            var pe = e[i].GetProperty("probabilities");
            var top = ModelFolder.Labels.OrderByDescending(l => pe.GetProperty(l).GetDouble()).Take(2).ToArray();
            if (pe.GetProperty(top[0]).GetDouble() - pe.GetProperty(top[1]).GetDouble() > 2e-4)
                Assert.Equal(e[i].GetProperty("label").GetString(), a[i].GetProperty("label").GetString());
        }
        output.WriteLine($"sertool predict --json vs node predict.mjs: max|dprob| {worst:E2} over {wavs.Count} files");
    }
}
