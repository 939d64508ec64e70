namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// CUDA C for the GPU front end, compiled at run time by NVRTC (through the kernel cache).
/// Legend: B batch, g packed frame index over the whole batch (sample b owns frames
/// frameStart[b] .. frameStart[b+1]-1), N = 640 window, D = 1600 DFT points, K = 801 complex bins,
/// F = 400 kept bins, T frames of the padded output.
/// </summary>
internal static class CudaFrontEndKernels
{
    public const string ProgramName = "ser_frontend.cu";

    /// <summary>The backend kernels' options: no multiply-add contraction, so frames and dB values round like the CPU
    /// front end's (NVRTC would otherwise contract, its default being --fmad=true).</summary>
    public static readonly string[] Options = CudaKernels.Options;

    public static readonly CudaKernelSet Set = new(Source, ProgramName, Options);

    public const string FrameWindow = "ser_frame_window";
    public const string PowerDb = "ser_power_db";

    public const string Source = """
        // Sample b owning packed frame g: the last b with frameStart[b] <= g (every sample has >= 1 frame).
        __device__ int ser_owner(const int* __restrict__ frameStart, int batch, int g)
        {
            int lo = 0, hi = batch - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >> 1;
                if (frameStart[mid] <= g) lo = mid; else hi = mid - 1;
            }
            return lo;
        }

        // One block per frame: frame t of sample b covers samples t*160 .. t*160+639 of that sample,
        // multiplied by the window, zero where the sample has ended, zero-padded to 1600 points.
        extern "C" __global__ void ser_frame_window(
            const float* __restrict__ pcm,              // [sum L_b] the batch's samples, back to back
            const long long* __restrict__ sampleStart,  // [B+1] offset of each sample in pcm (prefix sums of L_b)
            const int* __restrict__ frameStart,         // [B+1] packed index of each sample's frame 0
            const float* __restrict__ window,           // [N] Hamming window
            float* __restrict__ frames,                 // [count, D] this chunk's frames
            int batch, int firstFrame, int count)
        {
            int local = blockIdx.x;
            if (local >= count) return;
            int g = firstFrame + local;
            int b = ser_owner(frameStart, batch, g);
            long long start = sampleStart[b] + (long long)(g - frameStart[b]) * 160;
            long long end = sampleStart[b + 1];
            float* row = frames + (size_t)local * 1600;
            for (int n = threadIdx.x; n < 1600; n += blockDim.x) {
                float v = 0.0f;
                if (n < 640 && start + n < end) v = pcm[start + n] * window[n];
                row[n] = v;
            }
        }

        // One block per frame: power of bins 0..399, in dB with a -100 dB floor, z-normalised,
        // written to the padded output at [b, t, :].
        extern "C" __global__ void ser_power_db(
            const float* __restrict__ spectrum,         // [count, K, 2] this chunk's R2C output (re, im)
            const int* __restrict__ frameStart,         // [B+1]
            const float* __restrict__ mean,             // [F]
            const float* __restrict__ stdev,            // [F]
            float* __restrict__ out,                    // [B, T, F]
            int batch, int frames, int firstFrame, int count)
        {
            int local = blockIdx.x;
            if (local >= count) return;
            int g = firstFrame + local;
            int b = ser_owner(frameStart, batch, g);
            int t = g - frameStart[b];
            const float* row = spectrum + (size_t)local * (801 * 2);
            float* dst = out + ((size_t)b * frames + t) * 400;
            for (int f = threadIdx.x; f < 400; f += blockDim.x) {
                float re = row[2 * f], im = row[2 * f + 1];
                float p = re * re + im * im;
                float db = 10.0f * log10f(fmaxf(p, 1e-10f));
                dst[f] = (db - mean[f]) / stdev[f];
            }
        }
        """;
}
