using Ser.Engine.Backends;
using Ser.Engine.Backends.Cpu;
using Ser.Engine.Data;
using Ser.Engine.Models;
using Ser.Engine.Tensors;
using Ser.Engine.Tests.Training;
using Ser.Engine.Training;

namespace Ser.Engine.Tests.Graph;

/// <summary>
/// The fused conv block (conv + ReLU + mask + pool in one pass, 1-byte pool codes, no conv-resolution maps) against the
/// separate layers: the same bits for the pooled output and every gradient, on each kernel path, across thread counts.
/// </summary>
public class FusedConvBlockTests(ITestOutputHelper output)
{
    static int[] Bits(float[] a) => a.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>Elements of maps [B, C, T, F] in valid frames only (padded frames of dx are unspecified).</summary>
    static float[] ValidFrames(float[] a, int b, int c, int t, int f, int[] lengths) =>
        [.. from n in Enumerable.Range(0, b) from ch in Enumerable.Range(0, c) from r in Enumerable.Range(0, lengths[n])
            from q in Enumerable.Range(0, f) select a[((n * c + ch) * t + r) * f + q]];

    /// <summary>
    /// Integer inputs, weights and biases in {-1, 0, 1}: conv outputs are small integers, so pooling windows tie often
    /// (first-maximum rule) and many maxima are exactly 0 (no gradient through the ReLU). Padded input frames hold NaN.
    /// Lengths cover one-row windows (odd), a single frame, and planes longer than one piece of the bias sum.
    /// </summary>
    [Theory]
    [InlineData(38, SimdPath.Scalar)]
    [InlineData(38, SimdPath.Vector256)]
    [InlineData(38, SimdPath.Vector512)]
    [InlineData(19, SimdPath.Scalar)]
    [InlineData(19, SimdPath.Vector256)]
    [InlineData(19, SimdPath.Vector512)]
    [InlineData(50, SimdPath.Vector256)] // Vector512: 16 windows at AVX-512, 8 at AVX2, one scalar
    [InlineData(50, SimdPath.Vector512)]
    public void Fused_block_equals_conv_relu_mask_pool_bit_for_bit(int f, SimdPath path)
    {
        SimdPaths.Require(path);
        const int B = 4, Cin = 3, Cout = 5, T = 221;
        int[] lengths = [1, 2, 9, T];
        var desc = new ConvDesc(Cin, Cout, 4, 5, f);
        var r = new Random(f);
        float Trit() => r.Next(3) - 1;
        var x = new float[B * Cin * T * f];
        for (int n = 0; n < B; n++)
        for (int i = 0; i < Cin * T * f; i++)
            x[n * Cin * T * f + i] = i / f % T < lengths[n] ? Trit() : float.NaN;
        var w = Enumerable.Range(0, Cout * desc.PatchSize).Select(_ => Trit()).ToArray();
        var bias = Enumerable.Range(0, Cout).Select(_ => Trit()).ToArray();
        int to = (T + 1) / 2, fo = (f + 1) / 2;
        var dPooled = Rand.UniformF(r, B * Cout * to * fo);

        // the separate layers: conv, relu, mask, pool; backward pool, mask, relu, bias, filter, data
        float[] pooled, dw, db, dx;
        using (var be = new CpuBackend<float>(2, path))
        using (var s = new TensorScope<float>(be))
        {
            var xt = s.From(new Shape(B, Cin, T, f), x);
            var wt = s.From(new Shape(Cout, Cin, 4, 5), w);
            var bt = s.From(new Shape(Cout), bias);
            var y = s.New(new Shape(B, Cout, T, f));
            var p = s.New(new Shape(B, Cout, to, fo));
            var ws = s.New(new Shape(checked((int)Math.Max(be.ConvWorkspace(desc, B, T, B * T), be.BiasWorkspace(Cout, B)))));
            be.ConvForward(desc, xt, wt, bt, y, lengths, ws);
            be.ReluForward(y, lengths);
            be.Mask(y, lengths);
            be.PoolForward(y, p, lengths);
            var dp = s.From(p.Shape, dPooled);
            var dy = s.New(y.Shape);
            be.PoolBackward(y, p, dp, dy, lengths);
            be.Mask(dy, lengths);
            be.ReluBackward(y, dy, lengths);
            var dwt = s.New(wt.Shape);
            var dbt = s.New(bt.Shape);
            var dxt = s.New(xt.Shape);
            be.BiasBackward(dy, dbt, lengths, ws);
            be.ConvBackwardFilter(desc, xt, dy, dwt, lengths, ws);
            be.ConvBackwardData(desc, dy, wt, dxt, lengths, ws);
            (pooled, dw, db, dx) = (s.Read(p), s.Read(dwt), s.Read(dbt), s.Read(dxt));
        }

        using (var be = new CpuBackend<float>(1, path))
        using (var s = new TensorScope<float>(be))
        {
            Assert.True(be.FusesConvBlocks);
            var xt = s.From(new Shape(B, Cin, T, f), x);
            var wt = s.From(new Shape(Cout, Cin, 4, 5), w);
            var bt = s.From(new Shape(Cout), bias);
            var p = s.New(new Shape(B, Cout, to, fo));
            var code = s.New(new Shape(checked((int)Backend<float>.PoolCodeElements(p.Elements))));
            var ws = s.New(new Shape(checked((int)be.ConvBlockWorkspace(desc, B, T, B * T))));
            be.ConvBlockForward(desc, xt, wt, bt, p, code, lengths, ws);
            Assert.Equal(Bits(pooled), Bits(s.Read(p)));
            var dwt = s.New(wt.Shape);
            var dbt = s.New(bt.Shape);
            var dxt = s.New(xt.Shape);
            be.ConvBlockBackward(desc, xt, wt, s.From(p.Shape, dPooled), code, dwt, dbt, dxt, lengths, ws);
            Assert.Equal(Bits(db), Bits(s.Read(dbt)));
            Assert.Equal(Bits(dw), Bits(s.Read(dwt)));
            Assert.Equal(Bits(ValidFrames(dx, B, Cin, T, f, lengths)), Bits(ValidFrames(s.Read(dxt), B, Cin, T, f, lengths)));
        }
        // the data exercises what it is meant to: pooled zeros (no gradient) and positive maxima
        Assert.Contains(pooled, v => v == 0);
        Assert.Contains(pooled, v => v > 0);
        Assert.Contains(db, v => v != 0);
    }

    static readonly ModelConfig Config = new()
    {
        Bins = 38, // conv widths 38, 19 (odd: a one-column window), 10; vector and scalar pooling columns
        Channels = [5, 9, 8],
        Kernels = [[5, 5], [3, 4], [3, 3]],
        Hidden = 12,
        Dense = 12,
        Classes = 4,
        Dropout = 0.25,
    };

    sealed record Run(double[] Losses, float[][][] Gradients, float[][] Parameters, float[] Logits);

    static Run Train(bool fused, int threads, SimdPath path)
    {
        var set = SyntheticBatches.Set(7, 12, Config.Bins, Config.Classes, 1, 45);
        var batches = new[] { SyntheticBatches.Make(set[..6], Config.Bins), SyntheticBatches.Make(set[6..], Config.Bins) };
        using var ex = Executor.Create(Config, new ExecutorOptions
        {
            MaxBatch = 6, MaxFrames = 45, Threads = threads, Simd = path, FuseConvBlocks = fused,
        });
        Assert.Equal(fused, ex.Graph.FusesConvBlocks);
        ex.InitializeParameters(3);
        ex.Adam = new AdamOptions { LearningRate = 1e-2 };
        var losses = new List<double>();
        var gradients = new List<float[][]>();
        for (int step = 0; step < 4; step++)
        {
            losses.Add(ex.TrainStep(batches[step % 2], [3, 3, 3, 3]).Loss);
            gradients.Add([.. Enumerable.Range(0, ex.Graph.Parameters.Count).Select(i =>
            {
                var view = ex.Graph.GradientView(i);
                var a = new float[view.Elements];
                ex.Graph.Backend.Download(view, a);
                return a;
            })]);
        }
        var logits = new float[batches[0].Count * Config.Classes];
        ex.Evaluate(batches[0], default, logits);
        return new Run([.. losses], [.. gradients], [.. ex.ParameterNames.Select(ex.GetParameter)], logits);
    }

    /// <summary>A few Adam steps on ragged batches (lengths 1..45, dropout on): fused and separate layers agree exactly,
    /// also across thread counts.</summary>
    [Theory]
    [MemberData(nameof(SimdPaths.All), MemberType = typeof(SimdPaths))]
    public void Training_with_fused_blocks_equals_separate_layers_bit_for_bit(SimdPath path)
    {
        SimdPaths.Require(path);
        var separate = Train(fused: false, threads: 2, path);
        var fused = Train(fused: true, threads: 1, path);
        Assert.Equal(separate.Losses.Select(BitConverter.DoubleToInt64Bits), fused.Losses.Select(BitConverter.DoubleToInt64Bits));
        for (int step = 0; step < separate.Gradients.Length; step++)
        for (int p = 0; p < separate.Gradients[step].Length; p++)
            Assert.Equal(Bits(separate.Gradients[step][p]), Bits(fused.Gradients[step][p]));
        for (int p = 0; p < separate.Parameters.Length; p++) Assert.Equal(Bits(separate.Parameters[p]), Bits(fused.Parameters[p]));
        Assert.Equal(Bits(separate.Logits), Bits(fused.Logits));
        Assert.Contains(separate.Gradients[^1], g => g.Any(v => v != 0));
    }

    [Fact]
    public void Training_executor_fuses_blocks_and_inference_keeps_every_layer_output()
    {
        var batch = SyntheticBatches.Make(SyntheticBatches.Set(2, 3, Config.Bins, Config.Classes, 5, 20), Config.Bins);
        using var train = Executor.Create(Config, new ExecutorOptions { MaxBatch = 3, MaxFrames = 20, Threads = 1 });
        using var infer = Executor.Create(Config, new ExecutorOptions { MaxBatch = 3, MaxFrames = 20, Threads = 1, Training = false });
        Assert.Equal("conv2", train.FusedLayers["pool2"]);
        Assert.Equal(9, train.FusedLayers.Count); // relu, mask, pool of three blocks
        Assert.Empty(infer.FusedLayers);
        train.InitializeParameters(1);
        infer.InitializeParameters(1);
        train.Evaluate(batch);
        infer.Evaluate(batch);
        int conv1 = train.LayerNames.ToList().IndexOf("conv1"), pool1 = conv1 + 3;
        var e = Assert.Throws<InvalidOperationException>(() => train.Graph.OutputView(conv1));
        Assert.Contains("inference executor", e.Message);
        Assert.Equal(infer.Graph.OutputView(conv1).Shape, new Shape(3, 5, batch.Frames, Config.Bins));
        // the pooled output is kept by both, with the same values
        float[] Read(Executor ex)
        {
            var v = ex.Graph.OutputView(pool1);
            var a = new float[v.Elements];
            ex.Graph.Backend.Download(v, a);
            return a;
        }
        Assert.Equal(Bits(Read(infer)), Bits(Read(train)));
    }

    /// <summary>
    /// Issue 16's memory goal: the paper preset training at B = 32, T = 1200 frames plans at most 1.5 GB (parameters,
    /// gradients, Adam moments, activations, workspace and the CPU backend's scratch). Planning allocates (and zeroes)
    /// the arenas, so this test holds them briefly.
    /// </summary>
    [Theory]
    [InlineData(32, 1.5e9)]
    [InlineData(8, 0.4e9)]
    public void Paper_training_arena_fits_the_budget(int batch, double budget)
    {
        using var ex = Executor.Create(ModelConfig.Paper, new ExecutorOptions { MaxBatch = batch, MaxFrames = 1200, Threads = 2 });
        output.WriteLine($"paper training B={batch} T=1200: {ex.ArenaBytes:N0} bytes ({ex.ArenaBytes / 1e9:0.000} GB)");
        foreach (var (name, bytes) in ex.ArenaUsage) output.WriteLine($"  {name}: {bytes:N0}");
        Assert.True(ex.ArenaBytes <= budget, $"{ex.ArenaBytes:N0} bytes > {budget:N0}");
    }

    /// <summary>Before and after, at B = 8 (the separate layers plan 0.84 GB; B = 32 plans 3.28 GB, too much for a test).</summary>
    [Fact]
    public void Fused_blocks_plan_a_third_of_the_separate_layers_memory()
    {
        long Bytes(bool fused)
        {
            using var ex = Executor.Create(ModelConfig.Paper,
                new ExecutorOptions { MaxBatch = 8, MaxFrames = 1200, Threads = 2, FuseConvBlocks = fused });
            output.WriteLine($"paper training B=8 T=1200, {(fused ? "fused blocks" : "separate layers")}: {ex.ArenaBytes:N0} bytes");
            return ex.ArenaBytes;
        }
        long separate = Bytes(false), fused = Bytes(true);
        Assert.True(fused * 3 < separate, $"{fused:N0} vs {separate:N0} bytes");
    }
}
