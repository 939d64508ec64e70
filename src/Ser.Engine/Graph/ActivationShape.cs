using Ser.Engine.Tensors;

namespace Ser.Engine.Graph;

internal enum ActivationKind { Maps, Sequence, Vector }

/// <summary>
/// A layer's output shape without the batch: maps [C, T_l, F], a sequence [T_l, I] or a vector [N]. Time is given as
/// a pooling level l: T_l = ceil(T / 2^l) frames and valid lengths V_l = ceil(V / 2^l) for an input of T frames.
/// </summary>
internal readonly record struct ActivationShape(ActivationKind Kind, int Channels, int Level, int Width)
{
    public static ActivationShape Maps(int channels, int level, int bins) => new(ActivationKind.Maps, channels, level, bins);
    public static ActivationShape Sequence(int level, int features) => new(ActivationKind.Sequence, 1, level, features);
    public static ActivationShape Vector(int features) => new(ActivationKind.Vector, 1, 0, features);

    public static int FramesAt(int frames, int level)
    {
        for (int i = 0; i < level; i++) frames = (frames + 1) / 2;
        return frames;
    }

    public Shape Concrete(int batch, int frames) => Kind switch
    {
        ActivationKind.Maps => new Shape(batch, Channels, FramesAt(frames, Level), Width),
        ActivationKind.Sequence => new Shape(batch, FramesAt(frames, Level), Width),
        _ => new Shape(batch, Width),
    };

    public long MaxElements(int maxBatch, int maxFrames) => Concrete(maxBatch, maxFrames).Elements;

    public override string ToString() => Kind switch
    {
        ActivationKind.Maps => $"[B, {Channels}, T/{1 << Level}, {Width}]",
        ActivationKind.Sequence => $"[B, T/{1 << Level}, {Width}]",
        _ => $"[B, {Width}]",
    };
}
