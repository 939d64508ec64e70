namespace Ser.Engine.Tensors;

/// <summary>
/// A row-major shape of rank 1..4. A value type so that making a view of a buffer for the current batch costs no
/// allocation on the hot path.
/// </summary>
internal readonly struct Shape : IEquatable<Shape>
{
    public readonly int Rank;
    public readonly int D0, D1, D2, D3;

    public Shape(int d0) : this(1, d0, 1, 1, 1) { }
    public Shape(int d0, int d1) : this(2, d0, d1, 1, 1) { }
    public Shape(int d0, int d1, int d2) : this(3, d0, d1, d2, 1) { }
    public Shape(int d0, int d1, int d2, int d3) : this(4, d0, d1, d2, d3) { }

    Shape(int rank, int d0, int d1, int d2, int d3)
    {
        if (d0 < 0 || d1 < 0 || d2 < 0 || d3 < 0) throw new ArgumentOutOfRangeException(nameof(d0), "negative dimension");
        Rank = rank; D0 = d0; D1 = d1; D2 = d2; D3 = d3;
    }

    public long Elements => (long)D0 * D1 * D2 * D3;

    public int this[int axis] => axis switch
    {
        0 => D0, 1 => D1, 2 => D2, 3 => D3,
        _ => throw new ArgumentOutOfRangeException(nameof(axis)),
    };

    public int[] ToArray()
    {
        var a = new int[Rank];
        for (int i = 0; i < Rank; i++) a[i] = this[i];
        return a;
    }

    public static Shape FromArray(ReadOnlySpan<int> dims) => dims.Length switch
    {
        1 => new(dims[0]),
        2 => new(dims[0], dims[1]),
        3 => new(dims[0], dims[1], dims[2]),
        4 => new(dims[0], dims[1], dims[2], dims[3]),
        _ => throw new ArgumentException($"rank {dims.Length} is not supported (1..4)", nameof(dims)),
    };

    public bool Equals(Shape other) =>
        Rank == other.Rank && D0 == other.D0 && D1 == other.D1 && D2 == other.D2 && D3 == other.D3;

    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode() => HashCode.Combine(Rank, D0, D1, D2, D3);
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);
    public override string ToString() => "[" + string.Join(", ", ToArray()) + "]";
}
