using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Ser.Reference.Native;

/// <summary>
/// Checks libtorch's float32 convolution input gradient against float64 once per process, and turns oneDNN (mkldnn)
/// off for this process when it is wrong.
///
/// WHY: on an AMD Zen 5 (AVX-512) machine, libtorch 2.x as shipped with TorchSharp 0.107 returns float32 conv2d input
/// gradients with O(1) errors (max |error| 2-7 where the values are at most 7) as soon as the batch holds more than one
/// sample, with its AVX2 and AVX-512 oneDNN kernels (ONEDNN_MAX_CPU_ISA=AVX2 or AVX512_CORE); SSE4.1 kernels
/// (ONEDNN_MAX_CPU_ISA=SSE41) and float64 (not oneDNN) are right, and the forward pass and the weight gradient are right.
/// It is not rounding or padding: a batch of unpadded utterances of equal length shows it. The reference is our oracle and the
/// speed peer of the benchmark, so it must compute the right thing; libtorch's own convolution (im2col + GEMM) does.
///
/// HOW: TorchSharp has no switch for it, so this calls libtorch's C++ API at::globalContext().setUserEnabledMkldnn(false)
/// (exported, Itanium C++ ABI: a member function takes `this` as its first argument). Nothing is done when the check
/// passes, so a machine with correct kernels keeps oneDNN's speed.
/// </summary>
public static class OneDnnCheck
{
    /// <summary>What the check found: whether oneDNN was turned off, and one line of detail.</summary>
    public sealed record Outcome(bool OneDnnDisabled, string Detail);

    // A float32 result is "right" within this fraction of the largest gradient: rounding is ~1e-7 relative here.
    private const double Tolerance = 1e-4;

    /// <summary>Runs the check (TorchSharp must be loadable). Throws <see cref="Engine.SerException"/> if no fix helps.</summary>
    public static Outcome Run()
    {
        double error = WorstRelativeError();
        if (error <= Tolerance) return new Outcome(false, $"float32 conv gradients agree with float64 (worst {error:E1} of max)");

        SetOneDnnEnabled(false);
        double after = WorstRelativeError();
        if (after > Tolerance)
            throw new Engine.SerException(
                $"libtorch's float32 convolution gradient is wrong on this CPU ({error:E1} of max), also with oneDNN off ({after:E1})");
        string detail = $"libtorch's oneDNN float32 conv input gradient is wrong on this CPU ({error:E1} of max); " +
                        $"oneDNN turned off for the reference ({after:E1})";
        Console.Error.WriteLine($"note: {detail}");
        return new Outcome(true, detail);
    }

    /// <summary>Worst |float32 - float64| / max|float64| of the input gradient over a few small batched convolutions.</summary>
    private static double WorstRelativeError()
    {
        double worst = 0;
        // Shapes like the reference's blocks (B, C, T, F, Cout, kt, kf); repeated because the wrong results were seen to
        // vary from call to call.
        (int B, int C, int T, int F, int Co, int Kt, int Kf)[] cases = [(2, 1, 9, 40, 2, 3, 4), (4, 3, 5, 100, 4, 3, 3), (4, 2, 9, 200, 3, 3, 3)];
        for (int repeat = 0; repeat < 2; repeat++)
            foreach (var c in cases)
            {
                var rng = new Random(17 + repeat);
                float[] x = Uniform(rng, c.B * c.C * c.T * c.F), w = Uniform(rng, c.Co * c.C * c.Kt * c.Kf);
                float[] dy = Uniform(rng, c.B * c.Co * c.T * c.F);
                var single = InputGradient(ScalarType.Float32, c, x, w, dy);
                var exact = InputGradient(ScalarType.Float64, c, x, w, dy);
                double max = exact.Max(Math.Abs), diff = 0;
                for (int i = 0; i < exact.Length; i++) diff = Math.Max(diff, Math.Abs(single[i] - exact[i]));
                worst = Math.Max(worst, diff / max);
            }
        return worst;
    }

    /// <summary>d(sum(y * dy))/dx for y = conv2d(pad_same(x), w): x [B,C,T,F], w [Co,C,kt,kf], dy [B,Co,T,F].</summary>
    private static double[] InputGradient(ScalarType type, (int B, int C, int T, int F, int Co, int Kt, int Kf) c, float[] x, float[] w, float[] dy)
    {
        using var scope = NewDisposeScope();
        var input = torch.tensor(x, [c.B, c.C, c.T, c.F]).to_type(type).requires_grad_(true);
        var weight = torch.tensor(w, [c.Co, c.C, c.Kt, c.Kf]).to_type(type);
        var y = ReferenceCrnn.ConvSame(input, weight, torch.zeros([c.Co], type), c.Kt, c.Kf);
        var upstream = torch.tensor(dy, [c.B, c.Co, c.T, c.F]).to_type(type);
        var gradient = torch.autograd.grad([(y * upstream).sum()], [input])[0];
        return gradient.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
    }

    private static float[] Uniform(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(2 * rng.NextDouble() - 1);
        return v;
    }

    private static unsafe void SetOneDnnEnabled(bool enabled)
    {
        var library = NativeLibrary.Load("libtorch_cpu.so", typeof(torch).Assembly, null);
        var globalContext = (delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(library, "_ZN2at13globalContextEv");
        var setEnabled = (delegate* unmanaged<IntPtr, byte, void>)NativeLibrary.GetExport(library, "_ZN2at7Context20setUserEnabledMkldnnEb");
        var isEnabled = (delegate* unmanaged<IntPtr, byte>)NativeLibrary.GetExport(library, "_ZNK2at7Context17userEnabledMkldnnEv");
        IntPtr context = globalContext();
        setEnabled(context, enabled ? (byte)1 : (byte)0);
        if ((isEnabled(context) != 0) != enabled) throw new Engine.SerException("libtorch: could not switch oneDNN");
    }
}
