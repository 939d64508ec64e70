using Ser.Engine.Backends;
using Ser.Engine.Backends.Cuda;

namespace Ser.Engine.Tests.Cuda;

/// <summary>
/// The mapping between our LSTM parameters and cuDNN's weight space (<see cref="LstmLayout"/>) is pure address
/// arithmetic, so it is checked here without a GPU: the copy segments are replayed on host arrays standing in for
/// device memory. cuDNN's offsets are made up (the real ones come from cudnnGetRNNWeightParams on the GPU).
/// </summary>
public class CudaLayoutTests
{
    const int H = 3, I = 5;

    /// <summary>Host arrays at fake device addresses; a segment copies between them as the ser_segments kernel would.</summary>
    sealed class FakeMemory
    {
        readonly List<(ulong Base, float[] Data)> _regions = [];
        ulong _next = 0x1000_0000;

        public ulong Add(float[] data)
        {
            ulong at = _next;
            _regions.Add((at, data));
            _next += (ulong)(data.Length * sizeof(float)) + 0x10000;
            return at;
        }

        (float[] Data, int Index) Resolve(ulong address)
        {
            foreach (var (b, d) in _regions)
                if (address >= b && address < b + (ulong)(d.Length * sizeof(float)))
                    return (d, (int)((address - b) / sizeof(float)));
            throw new InvalidOperationException($"address {address:x} is in no region");
        }

        public void Run(IEnumerable<CopySegment> segments, bool accumulate)
        {
            foreach (var s in segments)
            {
                var (dst, di) = Resolve(s.Destination);
                Assert.True(di + s.Count <= dst.Length, "segment runs past its destination");
                for (int k = 0; k < s.Count; k++)
                {
                    float v = 0;
                    if (s.Source != 0)
                    {
                        var (src, si) = Resolve(s.Source);
                        Assert.True(si + s.Count <= src.Length, "segment runs past its source");
                        v = src[si + k];
                    }
                    if (accumulate) dst[di + k] += v; else dst[di + k] = v;
                }
            }
        }
    }

    /// <summary>A made-up cuDNN layout: matrices of both directions then biases, in a shuffled order of IDs.</summary>
    static (LstmLayout Layout, long SpaceFloats) MakeLayout(bool doubleBias)
    {
        var matrix = new long[2, 8];
        var bias = new long[2, 8];
        long at = 0;
        int[] order = [5, 0, 7, 2, 1, 6, 3, 4]; // any placement must work: offsets come from cuDNN
        for (int d = 0; d < 2; d++)
            foreach (int id in order)
            {
                matrix[d, id] = at;
                at += (long)H * (id < 4 ? I : H);
            }
        for (int d = 0; d < 2; d++)
        for (int id = 0; id < 8; id++)
        {
            bias[d, id] = id < 4 || doubleBias ? at : -1;
            if (bias[d, id] >= 0) at += H;
        }
        return (new LstmLayout(new LstmDesc(I, H), matrix, bias), at);
    }

    static float[] Distinct(int n, int tag) => Enumerable.Range(0, n).Select(i => tag * 1000 + i + 0.5f).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pack_puts_gate_k_of_w_ih_at_id_k_and_of_w_hh_at_id_4_plus_k(bool doubleBias)
    {
        var (layout, spaceFloats) = MakeLayout(doubleBias);
        var mem = new FakeMemory();
        var ih = new[] { Distinct(4 * H * I, 1), Distinct(4 * H * I, 2) };
        var hh = new[] { Distinct(4 * H * H, 3), Distinct(4 * H * H, 4) };
        var b = new[] { Distinct(4 * H, 5), Distinct(4 * H, 6) };
        var p = new LstmAddresses(mem.Add(ih[0]), mem.Add(hh[0]), mem.Add(b[0]), mem.Add(ih[1]), mem.Add(hh[1]), mem.Add(b[1]));
        var space = Enumerable.Repeat(float.NaN, (int)spaceFloats).ToArray();
        ulong spaceAt = mem.Add(space);
        mem.Run(layout.PackSegments(p, spaceAt), accumulate: false);

        Assert.DoesNotContain(space, float.IsNaN); // every float of the weight space is written
        for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++)
        {
            for (int r = 0; r < H; r++)
            {
                for (int c = 0; c < I; c++)
                    Assert.Equal(ih[d][(k * H + r) * I + c], space[layout.Matrix(d, k) + r * I + c]);
                for (int c = 0; c < H; c++)
                    Assert.Equal(hh[d][(k * H + r) * H + c], space[layout.Matrix(d, 4 + k) + r * H + c]);
                Assert.Equal(b[d][k * H + r], space[layout.Bias(d, k) + r]);           // ours in the input-side bias
                if (doubleBias) Assert.Equal(0f, space[layout.Bias(d, 4 + k) + r]);   // the recurrent one zeroed
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Unpack_is_the_transpose_of_pack_and_sums_both_biases(bool doubleBias)
    {
        var (layout, spaceFloats) = MakeLayout(doubleBias);
        var mem = new FakeMemory();
        var space = Distinct((int)spaceFloats, 7);
        ulong spaceAt = mem.Add(space);
        var g = new[] { new float[4 * H * I], new float[4 * H * H], new float[4 * H], new float[4 * H * I], new float[4 * H * H], new float[4 * H] };
        foreach (var a in g) Array.Fill(a, float.NaN);
        var addresses = new LstmAddresses(mem.Add(g[0]), mem.Add(g[1]), mem.Add(g[2]), mem.Add(g[3]), mem.Add(g[4]), mem.Add(g[5]));
        mem.Run(layout.UnpackSegments(addresses, spaceAt), accumulate: false);
        var add = layout.UnpackAddSegments(addresses, spaceAt);
        Assert.Equal(doubleBias ? 8 : 0, add.Length);
        mem.Run(add, accumulate: true);

        foreach (var a in g) Assert.DoesNotContain(a, float.IsNaN); // every gradient element is written
        for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++)
        for (int r = 0; r < H; r++)
        {
            for (int c = 0; c < I; c++) Assert.Equal(space[layout.Matrix(d, k) + r * I + c], g[3 * d][(k * H + r) * I + c]);
            for (int c = 0; c < H; c++) Assert.Equal(space[layout.Matrix(d, 4 + k) + r * H + c], g[3 * d + 1][(k * H + r) * H + c]);
            float expected = space[layout.Bias(d, k) + r] + (doubleBias ? space[layout.Bias(d, 4 + k) + r] : 0);
            Assert.Equal(expected, g[3 * d + 2][k * H + r]);
        }
    }

    [Fact]
    public void A_gate_without_any_bias_is_refused()
    {
        var matrix = new long[2, 8];
        var bias = new long[2, 8];
        for (int d = 0; d < 2; d++) for (int id = 0; id < 8; id++) bias[d, id] = -1;
        var layout = new LstmLayout(new LstmDesc(I, H), matrix, bias);
        Assert.Throws<InvalidOperationException>(() => layout.PackSegments(default, 0));
    }
}
