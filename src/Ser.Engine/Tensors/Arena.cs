namespace Ser.Engine.Tensors;

/// <summary>
/// One block of backend memory (host or device) that holds every tensor of one kind: parameters, gradients,
/// optimizer state, activations or workspace. It is sized once from the model config and the largest batch shape;
/// tensors are <see cref="TensorView"/>s into it, so a training step in steady state allocates nothing.
/// </summary>
internal abstract class Arena : IDisposable
{
    protected Arena(string name, long elements, int elementSize)
    {
        Name = name;
        Elements = elements;
        ElementSize = elementSize;
    }

    public string Name { get; }
    public long Elements { get; }
    public int ElementSize { get; }
    public long Bytes => Elements * ElementSize;

    public TensorView View(Region region, Shape shape)
    {
        if (shape.Elements > region.Capacity)
            throw new InvalidOperationException($"{Name}: shape {shape} needs {shape.Elements} elements, region holds {region.Capacity}");
        return new TensorView(this, region.Offset, shape);
    }

    public TensorView View(long offset, Shape shape) => new(this, offset, shape);

    public abstract void Dispose();
}

/// <summary>A reserved range of an arena, in elements: where a buffer lives and how large it may get.</summary>
internal readonly record struct Region(long Offset, long Capacity)
{
    public static readonly Region Empty = new(0, 0);
}

/// <summary>
/// Lays out buffers in one arena before it exists (a bump allocator over offsets). Every region starts on a
/// 64-byte boundary so vector loads of a buffer's start are aligned the same way in every run (determinism).
/// </summary>
internal sealed class ArenaPlan(string name)
{
    const int AlignElements = 16; // 64 bytes of float; 128 of double - fine for both

    public string Name { get; } = name;
    public long Elements { get; private set; }

    public Region Reserve(long elements)
    {
        if (elements < 0) throw new ArgumentOutOfRangeException(nameof(elements));
        long offset = Elements;
        Elements += (elements + AlignElements - 1) / AlignElements * AlignElements;
        return new Region(offset, elements);
    }
}
