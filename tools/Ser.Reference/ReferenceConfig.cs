namespace Ser.Reference;

/// <summary>One conv block: Conv2d(Cin -> <paramref name="Channels"/>, kernel KT x KF) + ReLU + mask + 2x2 ceil max pool.</summary>
public sealed record ConvSpec(int Channels, int KernelTime, int KernelFreq);

/// <summary>
/// The CRNN's shape (model contract). Legend: F input bins, C channels, H hidden per LSTM direction, D dense, K classes.
/// Everything but <see cref="Bins"/> and <see cref="Dropout"/> can be read off the parameter shapes
/// (<see cref="FromParameterShapes"/>), so a checkpoint needs no agreed config JSON to be loaded here.
/// </summary>
public sealed record ReferenceConfig(IReadOnlyList<ConvSpec> Convs, int Hidden, int Dense, int Classes, int Bins = 400, double Dropout = 0.0)
{
    /// <summary>The paper preset: 16@12x16, 24@8x12, 32@5x7, BiLSTM 128, dense 64, 4 classes.</summary>
    public static ReferenceConfig Paper { get; } =
        new([new(16, 12, 16), new(24, 8, 12), new(32, 5, 7)], Hidden: 128, Dense: 64, Classes: 4, Dropout: 0.5);

    /// <summary>A tiny config for tests: 2@3x4 (even kernel on purpose), 3@3x3, 4@3x3, H 5, D 6.</summary>
    public static ReferenceConfig Tiny(int bins = 400) =>
        new([new(2, 3, 4), new(3, 3, 3), new(4, 3, 3)], Hidden: 5, Dense: 6, Classes: 4, Bins: bins);

    /// <summary>The engine's config in reference terms (same sizes; dropout kept for the record, identity in eval).</summary>
    public static ReferenceConfig From(Engine.Models.ModelConfig config)
    {
        config.Validate();
        if (config.Blocks != 3) throw new Engine.SerException($"reference: the contract has 3 conv blocks, the config has {config.Blocks}");
        return new(config.Channels.Select((c, i) => new ConvSpec(c, config.Kernels[i][0], config.Kernels[i][1])).ToList(),
            config.Hidden, config.Dense, config.Classes, config.Bins, config.Dropout);
    }

    /// <summary>Frequency bins after the three poolings, F3 = ceil(ceil(ceil(F/2)/2)/2).</summary>
    public int PooledBins => Convs.Aggregate(Bins, (f, _) => CeilHalf(f));

    /// <summary>LSTM input size I = C3 * F3 (feature index c * F3 + f).</summary>
    public int LstmInput => Convs[^1].Channels * PooledBins;

    public static int CeilHalf(int n) => (n + 1) / 2;

    /// <summary>Checkpoint tensor names and shapes, in a fixed order (the contract's list).</summary>
    public IReadOnlyList<(string Name, int[] Shape)> ParameterShapes()
    {
        var list = new List<(string, int[])>();
        int cin = 1;
        for (int i = 0; i < Convs.Count; i++)
        {
            var c = Convs[i];
            list.Add(($"conv{i + 1}.weight", [c.Channels, cin, c.KernelTime, c.KernelFreq]));
            list.Add(($"conv{i + 1}.bias", [c.Channels]));
            cin = c.Channels;
        }
        foreach (var dir in new[] { "fw", "bw" })
        {
            list.Add(($"lstm.{dir}.w_ih", [4 * Hidden, LstmInput]));
            list.Add(($"lstm.{dir}.w_hh", [4 * Hidden, Hidden]));
            list.Add(($"lstm.{dir}.bias", [4 * Hidden]));
        }
        list.Add(("fc1.weight", [Dense, 2 * Hidden]));
        list.Add(("fc1.bias", [Dense]));
        list.Add(("fc2.weight", [Classes, Dense]));
        list.Add(("fc2.bias", [Classes]));
        return list;
    }

    /// <summary>
    /// Reads channels, kernels, H, D and K off the parameter shapes (three conv blocks), then checks every shape,
    /// including I = C3 * F3 for the given <paramref name="bins"/>. Throws <see cref="Engine.SerException"/> on mismatch.
    /// </summary>
    public static ReferenceConfig FromParameterShapes(IReadOnlyDictionary<string, int[]> shapes, int bins = 400, double dropout = 0.0)
    {
        int[] Shape(string name) => shapes.TryGetValue(name, out var s) ? s
            : throw new Engine.SerException($"reference weights: missing tensor '{name}'");
        var convs = new List<ConvSpec>();
        for (int i = 1; i <= 3; i++)
        {
            var w = Shape($"conv{i}.weight");
            if (w.Length != 4) throw new Engine.SerException($"reference weights: conv{i}.weight must have 4 dimensions");
            convs.Add(new ConvSpec(w[0], w[2], w[3]));
        }
        var whh = Shape("lstm.fw.w_hh");
        var fc1 = Shape("fc1.weight");
        var fc2 = Shape("fc2.weight");
        if (whh.Length != 2 || fc1.Length != 2 || fc2.Length != 2)
            throw new Engine.SerException("reference weights: lstm.fw.w_hh, fc1.weight and fc2.weight must be matrices");
        var config = new ReferenceConfig(convs, Hidden: whh[1], Dense: fc1[0], Classes: fc2[0], Bins: bins, Dropout: dropout);
        config.CheckShapes(shapes);
        return config;
    }

    /// <summary>Throws unless <paramref name="shapes"/> holds exactly this config's tensors with these shapes.</summary>
    public void CheckShapes(IReadOnlyDictionary<string, int[]> shapes)
    {
        var expected = ParameterShapes();
        foreach (var (name, shape) in expected)
        {
            if (!shapes.TryGetValue(name, out var actual))
                throw new Engine.SerException($"reference weights: missing tensor '{name}'");
            if (!actual.SequenceEqual(shape))
                throw new Engine.SerException(
                    $"reference weights: '{name}' has shape [{string.Join(",", actual)}], expected [{string.Join(",", shape)}] (F = {Bins})");
        }
        foreach (var name in shapes.Keys)
            if (!expected.Any(e => e.Name == name))
                throw new Engine.SerException($"reference weights: unexpected tensor '{name}'");
    }
}
