using System.Numerics;
using Ser.Engine.Graph;
using Ser.Engine.Layers;

namespace Ser.Engine.Models;

/// <summary>
/// Builds the layer graph of the model contract from a <see cref="ModelConfig"/>:
/// input [B, 1, T, F] -> per block i: conv{i} (+bias), relu{i}, mask{i}, pool{i} -> reshape -> lstm -> fc1, relu_fc1,
/// dropout -> fc2 -> logits [B, K].
/// </summary>
internal static class CrnnModel
{
    public static List<Layer<T>> Build<T>(ModelConfig config) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        config.Validate();
        var layers = new List<Layer<T>>();
        for (int i = 0; i < config.Blocks; i++)
        {
            string n = (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            layers.Add(new Conv2dLayer<T>("conv" + n, config.Channels[i], config.Kernels[i][0], config.Kernels[i][1]));
            layers.Add(new ReluLayer<T>("relu" + n));
            layers.Add(new MaskLayer<T>("mask" + n));
            layers.Add(new MaxPoolLayer<T>("pool" + n));
        }
        layers.Add(new SequenceLayer<T>("reshape"));
        layers.Add(new BiLstmLayer<T>("lstm", config.Hidden));
        layers.Add(new DenseLayer<T>("fc1", config.Dense, classifier: false));
        layers.Add(new ReluLayer<T>("relu_fc1"));
        layers.Add(new DropoutLayer<T>("dropout", config.Dropout));
        layers.Add(new DenseLayer<T>("fc2", config.Classes, classifier: true));
        return layers;
    }

    /// <summary>The input: one channel of maps at level 0.</summary>
    public static ActivationShape InputShape(ModelConfig config) => ActivationShape.Maps(1, 0, config.Bins);
}

internal static class CrnnParameters
{
    /// <summary>Parameter names and shapes of a config in checkpoint order, without allocating a model.</summary>
    public static IReadOnlyList<(string Name, int[] Shape)> Of(ModelConfig config)
    {
        var table = new ParameterTable();
        var shape = CrnnModel.InputShape(config);
        foreach (var layer in CrnnModel.Build<float>(config)) shape = layer.Connect(shape, table);
        return table.Entries.Select(e => (e.Name, e.Shape.ToArray())).ToList();
    }
}
