namespace Ser.Engine.Tensors;

/// <summary>
/// A tensor: an offset and a shape into an <see cref="Arena"/>. Views are values; creating one allocates nothing.
/// Row-major; the layout of each buffer is written next to where it is planned.
/// </summary>
internal readonly struct TensorView
{
    public TensorView(Arena arena, long offset, Shape shape)
    {
        if (offset < 0 || offset + shape.Elements > arena.Elements)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{arena.Name}: view [{offset}, +{shape.Elements}) outside {arena.Elements} elements");
        Arena = arena;
        Offset = offset;
        Shape = shape;
    }

    public Arena Arena { get; }
    public long Offset { get; }
    public Shape Shape { get; }
    public long Elements => Shape.Elements;
    public bool IsEmpty => Arena is null;

    /// <summary>Same memory, another shape with at most as many elements.</summary>
    public TensorView Reshape(Shape shape)
    {
        if (shape.Elements > Elements) throw new ArgumentException($"cannot view {Shape} as larger {shape}");
        return new TensorView(Arena, Offset, shape);
    }

    /// <summary>A sub-range starting <paramref name="elementOffset"/> elements in.</summary>
    public TensorView Slice(long elementOffset, Shape shape)
    {
        if (elementOffset < 0 || elementOffset + shape.Elements > Elements)
            throw new ArgumentOutOfRangeException(nameof(elementOffset));
        return new TensorView(Arena, Offset + elementOffset, shape);
    }

    public override string ToString() => $"{Arena?.Name}@{Offset}{Shape}";
}
