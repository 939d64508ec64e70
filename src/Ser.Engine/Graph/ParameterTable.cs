using Ser.Engine.Tensors;

namespace Ser.Engine.Graph;

/// <summary>How a parameter is initialised (documented in <see cref="Models.ParameterInit"/>).</summary>
internal enum InitKind { Zero, Uniform, LstmBias, Classifier }

internal readonly record struct InitRule(InitKind Kind, double Bound = 0, int Hidden = 0)
{
    public static InitRule Zero => new(InitKind.Zero);
    public static InitRule UniformBound(double bound) => new(InitKind.Uniform, bound);
    /// <summary>Zero, except the forget-gate slice [H, 2H) of a (i, f, g, o) bias, which is 1.</summary>
    public static InitRule ForgetGateOne(int hidden) => new(InitKind.LstmBias, 0, hidden);
    /// <summary>Zero for training; U(±bound) when every path must carry signal (<see cref="Models.InitMode.AllPathsLive"/>).</summary>
    public static InitRule Classifier(double bound) => new(InitKind.Classifier, bound);
}

/// <summary>One named parameter: where it lives in the parameter arena (and at the same offset in the gradient arena).</summary>
internal sealed record ParameterEntry(string Name, Shape Shape, InitRule Init, Region Region);

/// <summary>
/// The model's parameters in declaration order (the checkpoint's tensor order). Parameters, their gradients and
/// each Adam moment share one layout, so every one of them is a single arena with the same offsets.
/// </summary>
internal sealed class ParameterTable
{
    readonly List<ParameterEntry> _entries = [];
    readonly ArenaPlan _plan = new("parameters");

    public IReadOnlyList<ParameterEntry> Entries => _entries;
    public long Elements => _plan.Elements;

    public int Add(string name, Shape shape, InitRule init)
    {
        if (_entries.Any(e => e.Name == name)) throw new InvalidOperationException($"parameter {name} declared twice");
        _entries.Add(new ParameterEntry(name, shape, init, _plan.Reserve(shape.Elements)));
        return _entries.Count - 1;
    }

    public int IndexOf(string name)
    {
        for (int i = 0; i < _entries.Count; i++) if (_entries[i].Name == name) return i;
        return -1;
    }
}
