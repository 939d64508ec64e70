using Ser.Engine.Audio;
using Ser.Engine.Checkpoints;
using Ser.Engine.Data;
using Ser.Engine.Data.Corpora;
using Ser.Engine.Experiments;
using Ser.Engine.Features;
using Ser.Engine.Models;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.IO;

/// <summary>
/// Every writer of state a run depends on (checkpoints, the run state, manifests, WAV files), interrupted midway as a
/// full disk would: the previous file survives byte for byte (and still loads), and no temporary file is left. A writer
/// that bypassed <see cref="Ser.Engine.IO.AtomicFile"/> (File.WriteAllBytes, an in-place FileStream) fails here.
/// </summary>
public sealed class InterruptedWritesTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-interrupted-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A writer: writes version <c>v</c> of its file into a folder and returns the path; Check loads it back.</summary>
    public sealed record Writer(string Name, Func<string, int, string> Write, Action<string> Check)
    {
        public override string ToString() => Name;
    }

    static readonly ModelConfig Config = new()
    {
        Bins = 16, Channels = [2, 3, 4], Kernels = [[3, 3], [3, 2], [2, 2]], Hidden = 5, Dense = 6, Classes = 4,
    };

    static string SaveCheckpoint(string dir, int version, bool optimizer)
    {
        using var ex = Executor.Create(Config, new ExecutorOptions { MaxBatch = 1, MaxFrames = 8, Training = optimizer });
        ex.InitializeParameters((ulong)(10 + version), InitMode.AllPathsLive);
        var stats = new FeatureStats(Enumerable.Repeat(-30f + version, Config.Bins).ToArray(), Enumerable.Repeat(4f, Config.Bins).ToArray());
        string path = Path.Combine(dir, optimizer ? "last.safetensors" : "best.safetensors");
        Checkpoint.Save(path, ex, ["neutral", "angry", "happy", "sad"], stats,
            new Dictionary<string, string> { ["run"] = version.ToString() }, includeOptimizer: optimizer, epoch: version);
        return path;
    }

    public static TheoryData<Writer> Writers() =>
    [
        new Writer("checkpoint", (d, v) => SaveCheckpoint(d, v, optimizer: false), p => Checkpoint.Load(p)),
        new Writer("checkpoint with Adam state", (d, v) => SaveCheckpoint(d, v, optimizer: true), p => Checkpoint.Load(p)),
        new Writer("run state", (d, v) =>
        {
            new RunState { Settings = new TrainingSettings { Epochs = 3 + v }, Labels = ["neutral", "angry"], Seconds = 12.5 * v }.Save(d);
            return RunState.PathIn(d);
        }, p => RunState.Load(Path.GetDirectoryName(p)!)),
        new Writer("manifest", (d, v) =>
        {
            string path = Path.Combine(d, "manifest.csv");
            var rows = Enumerable.Range(0, 50 + v).Select(i => ($"audio/{i}.wav",
                new Utterance($"u{i}", new FileAudioSource($"audio/{i}.wav"), "neutral", $"s{i % 4}", "1", 'F', 1.5)));
            ManifestCorpus.Write(path, rows);
            return path;
        }, p => Assert.StartsWith("path,label,speaker,session,gender\n", File.ReadAllText(p))),
        new Writer("wav", (d, v) =>
        {
            string path = Path.Combine(d, "clip.wav");
            WavWriter.WriteMono16(path, Enumerable.Range(0, 4000 + v).Select(i => MathF.Sin(i * 0.01f * (v + 1)) * 0.5f).ToArray(), 16000);
            return path;
        }, p => WavReader.ReadMono(p, 16000)),
    ];

    [Theory]
    [MemberData(nameof(Writers))]
    public void A_write_that_fails_midway_leaves_the_previous_file_intact(Writer writer)
    {
        string path = writer.Write(_dir, 1);
        var old = File.ReadAllBytes(path);
        Assert.True(old.Length > 64, $"{writer}: {old.Length} bytes is too small to be interrupted in the middle");

        // The new version's size, written elsewhere: fail at its start, inside and one byte short of its end.
        string scratch = Directory.CreateTempSubdirectory("ser-interrupted-scratch-").FullName;
        long fresh = new FileInfo(writer.Write(scratch, 2)).Length;
        Directory.Delete(scratch, recursive: true);

        foreach (long failAfter in new long[] { 0, 8, fresh / 2, fresh - 1 })
        {
            using (FailingWrites.After(failAfter))
                Assert.Throws<IOException>(() => writer.Write(_dir, 2));
            Assert.Equal(old, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
            writer.Check(path);
        }

        // Uninterrupted, the same write replaces the file.
        writer.Write(_dir, 2);
        Assert.NotEqual(old, File.ReadAllBytes(path));
        writer.Check(path);
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
    }
}
