namespace Ser.Engine.Backends.Cuda;

/// <summary>
/// CUDA C of the CUDA backend's own kernels (everything cuDNN/cuBLAS do not do), compiled at run time by NVRTC
/// through the kernel cache. Each kernel mirrors a CPU backend routine of the same concern (named in its comment) and
/// keeps its arithmetic order where that matters (reductions run in a fixed order, so results never depend on
/// scheduling). The module is compiled with --fmad=false so element-wise kernels (Adam, dropout, scaling) round
/// exactly like the CPU's separate multiplies and adds.
/// Legend: B batch, C channels, T frames, F bins, H hidden, K classes, n elements of the index space.
/// Maps are [B, C, T, F] row-major; len[b] is sample b's valid frame count at the tensor's own level.
/// </summary>
internal static class CudaKernels
{
    public const string ProgramName = "ser_backend.cu";

    /// <summary>
    /// NVRTC options of every kernel set of ours (<see cref="CudaFrontEndKernels"/> too): IEEE division/sqrt (the
    /// defaults) and no multiply-add contraction. NVRTC's default is --fmad=true (NVRTC guide, "Supported Compile
    /// Options": contraction of multiplies and adds into FMAD/FFMA/DFMA, default true); the CPU oracle rounds every
    /// multiply and add separately, so the GPU must too.
    /// </summary>
    public static readonly string[] Options = ["--fmad=false", "--std=c++17"];

    public static readonly CudaKernelSet Set = new(Source, ProgramName, Options);

    public const string Mask = "ser_mask";
    public const string Relu = "ser_relu";
    public const string ReluBackward = "ser_relu_backward";
    public const string BiasMaps = "ser_bias_maps";
    public const string PadMaps = "ser_pad_maps";
    public const string CropMaps = "ser_crop_maps";
    public const string BiasPartial = "ser_bias_partial";
    public const string BiasSum = "ser_bias_sum";
    public const string PoolForward = "ser_pool_forward";
    public const string PoolBackward = "ser_pool_backward";
    public const string MapsToSequence = "ser_maps_to_seq";
    public const string SequenceToMaps = "ser_seq_to_maps";
    public const string Segments = "ser_segments";
    public const string LstmGather = "ser_lstm_gather";
    public const string LstmScatter = "ser_lstm_scatter";
    public const string AddRows = "ser_add_rows";
    public const string ColumnSums = "ser_column_sums";
    public const string DropoutForward = "ser_dropout_forward";
    public const string DropoutBackward = "ser_dropout_backward";
    public const string SoftmaxCrossEntropy = "ser_softmax_xent";
    public const string SumSquaresPartial = "ser_sumsq_partial";
    public const string SumFinal = "ser_sum_final";
    public const string Scale = "ser_scale";
    public const string Adam = "ser_adam";

    /// <summary>Threads per block of the reductions below (their shared arrays are sized for it).</summary>
    public const int ReductionThreads = 256;

    /// <summary>
    /// Most threads per block of ser_softmax_xent, also its <c>__launch_bounds__</c>. Without launch bounds the compiler
    /// may give a thread more registers than a 1024-thread block can have (64K 32-bit registers per block on every GPU
    /// from sm_50 on, CUDA C++ Programming Guide, "Compute Capabilities"), and such a launch fails with
    /// CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES; this kernel's double-precision exp/log need many. Its loop over samples
    /// (b += blockDim.x) covers any batch with fewer threads.
    /// </summary>
    public const int SoftmaxMaxThreads = 256;

    /// <summary>Threads for ser_softmax_xent on a batch of B samples: whole warps, at most <see cref="SoftmaxMaxThreads"/>.</summary>
    public static int SoftmaxThreads(int batch) => Math.Clamp((batch + 31) / 32 * 32, 32, SoftmaxMaxThreads);

    /// <summary>Blocks of the first stage of the sum of squares (fixed, so the reduction order is too).</summary>
    public const int SumSquaresBlocks = 256;

    public const string Source = """
        typedef long long i64;
        typedef unsigned long long u64;

        // Grid-stride loop over an index space of n elements.
        #define SER_LOOP(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

        // Frame t and sample b of element i of maps [B, C, T, F].
        __device__ __forceinline__ int ser_frame(i64 i, int T, int F) { return (int)((i / F) % T); }
        __device__ __forceinline__ int ser_sample(i64 i, int C, int T, int F) { return (int)(i / ((i64)C * T * F)); }

        // ---- element-wise over maps (CpuElementwise) -------------------------------------------------------------

        // Zero every frame t >= len[b] of maps [B, C, T, F].
        extern "C" __global__ void ser_mask(float* x, const int* len, int C, int T, int F, i64 n)
        {
            SER_LOOP(i, n) {
                if (ser_frame(i, T, F) >= len[ser_sample(i, C, T, F)]) x[i] = 0.0f;
            }
        }

        // In place x = max(x, 0) on valid frames (len == 0: a flat tensor, every element).
        extern "C" __global__ void ser_relu(float* x, const int* len, int C, int T, int F, i64 n)
        {
            SER_LOOP(i, n) {
                if (len != 0 && ser_frame(i, T, F) >= len[ser_sample(i, C, T, F)]) continue;
                float v = x[i];
                x[i] = v > 0.0f ? v : 0.0f;
            }
        }

        // In place dy *= (y > 0) on valid frames (len == 0: every element).
        extern "C" __global__ void ser_relu_backward(const float* y, float* dy, const int* len, int C, int T, int F, i64 n)
        {
            SER_LOOP(i, n) {
                if (len != 0 && ser_frame(i, T, F) >= len[ser_sample(i, C, T, F)]) continue;
                if (!(y[i] > 0.0f)) dy[i] = 0.0f;
            }
        }

        // y[b, c, t, f] += bias[c] on valid frames (the convolution's bias; padded frames are left alone).
        extern "C" __global__ void ser_bias_maps(float* y, const float* bias, const int* len, int C, int T, int F, i64 n)
        {
            SER_LOOP(i, n) {
                if (ser_frame(i, T, F) >= len[ser_sample(i, C, T, F)]) continue;
                y[i] += bias[(int)((i / ((i64)T * F)) % C)];
            }
        }

        // xp [B, C, Tp, Fp] = x [B, C, T, F] on valid frames and bins, zero elsewhere (Tp >= T, Fp >= F): the
        // zero-haloed input cuDNN convolves (see CudaConv.cs for why the halo may be one row/column larger).
        extern "C" __global__ void ser_pad_maps(const float* x, float* xp, const int* len, int C, int T, int F, int Tp, int Fp, i64 n)
        {
            SER_LOOP(i, n) {
                int f = (int)(i % Fp);
                i64 r = i / Fp;
                int t = (int)(r % Tp);
                i64 bc = r / Tp;
                int b = (int)(bc / C);
                xp[i] = (t < len[b] && f < F) ? x[(bc * T + t) * F + f] : 0.0f;
            }
        }

        // x [B, C, T, F] = the leading [T, F] corner of each plane of xp [B, C, Tp, Fp].
        extern "C" __global__ void ser_crop_maps(const float* xp, float* x, int C, int T, int F, int Tp, int Fp, i64 n)
        {
            SER_LOOP(i, n) {
                int f = (int)(i % F);
                i64 r = i / F;
                int t = (int)(r % T);
                i64 bc = r / T;
                x[i] = xp[(bc * Tp + t) * Fp + f];
            }
        }

        // Bias gradient, stage 1: partial[b, c] = sum over valid (t, f) of dy[b, c, t, f]. One block of 256 per
        // (c, b); a fixed-shape tree reduction in double, so the result never depends on scheduling.
        extern "C" __global__ void ser_bias_partial(const float* dy, const int* len, float* partial, int C, int T, int F)
        {
            __shared__ double red[256];
            int c = blockIdx.x, b = blockIdx.y;
            const float* plane = dy + ((i64)b * C + c) * T * F;
            i64 count = (i64)len[b] * F;
            double s = 0.0;
            for (i64 i = threadIdx.x; i < count; i += 256) s += plane[i];
            red[threadIdx.x] = s;
            __syncthreads();
            for (int w = 128; w > 0; w >>= 1) {
                if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
                __syncthreads();
            }
            if (threadIdx.x == 0) partial[(i64)b * C + c] = (float)red[0];
        }

        // Bias gradient, stage 2: db[c] = sum over b, in batch order (as the CPU does).
        extern "C" __global__ void ser_bias_sum(const float* partial, float* db, int B, int C)
        {
            int c = blockIdx.x * blockDim.x + threadIdx.x;
            if (c >= C) return;
            float s = 0.0f;
            for (int b = 0; b < B; b++) s += partial[(i64)b * C + c];
            db[c] = s;
        }

        // ---- max pooling 2x2 stride 2, ceil mode, valid frames only (CpuPool) ------------------------------------

        // One thread per output element of y [B, C, To, Fo]: the max over input frames {2t, 2t+1} ∩ [0, len) and
        // bins {2f, 2f+1} ∩ [0, F); zero for output frames t >= ceil(len / 2). Same compare order as the CPU.
        extern "C" __global__ void ser_pool_forward(const float* x, float* y, const int* len, int C, int T, int F, int To, int Fo, i64 n)
        {
            SER_LOOP(i, n) {
                int fo = (int)(i % Fo);
                i64 r = i / Fo;
                int to = (int)(r % To);
                i64 bc = r / To;
                int valid = len[(int)(bc / C)];
                if (to >= (valid + 1) / 2) { y[i] = 0.0f; continue; }
                int t0 = 2 * to, f0 = 2 * fo;
                bool two = f0 + 1 < F, second = t0 + 1 < valid;
                const float* x0 = x + (bc * T + t0) * F;
                float m = x0[f0];
                if (two && x0[f0 + 1] > m) m = x0[f0 + 1];
                if (second) {
                    const float* x1 = x0 + F;
                    if (x1[f0] > m) m = x1[f0];
                    if (two && x1[f0 + 1] > m) m = x1[f0 + 1];
                }
                y[i] = m;
            }
        }

        // One thread per output element: writes its whole 2x2 window of dx (windows tile the input, so no two
        // threads write one element). The gradient goes to the window's FIRST element equal to the max, in
        // (row, column) order - PyTorch's tie rule, as on the CPU; everything else, padded frames included, is 0.
        extern "C" __global__ void ser_pool_backward(const float* x, const float* y, const float* dy, float* dx, const int* len,
            int C, int T, int F, int To, int Fo, i64 n)
        {
            SER_LOOP(i, n) {
                int fo = (int)(i % Fo);
                i64 r = i / Fo;
                int to = (int)(r % To);
                i64 bc = r / To;
                int valid = len[(int)(bc / C)];
                int t0 = 2 * to, f0 = 2 * fo;
                bool two = f0 + 1 < F, row1 = t0 + 1 < T;
                i64 at = (bc * T + t0) * F + f0;
                float g0 = 0.0f, g1 = 0.0f, g2 = 0.0f, g3 = 0.0f;
                if (t0 < valid) {
                    bool second = t0 + 1 < valid;
                    float m = y[i], g = dy[i];
                    if (x[at] == m) g0 = g;
                    else if (two && x[at + 1] == m) g1 = g;
                    else if (second && x[at + F] == m) g2 = g;
                    else if (second && two && x[at + F + 1] == m) g3 = g;
                }
                dx[at] = g0;
                if (two) dx[at + 1] = g1;
                if (row1) {
                    dx[at + F] = g2;
                    if (two) dx[at + F + 1] = g3;
                }
            }
        }

        // ---- maps <-> sequence (CpuSequence): [B, C, T, F] <-> [B, T, C*F], feature c*F + f --------------------

        extern "C" __global__ void ser_maps_to_seq(const float* maps, float* seq, const int* len, int C, int T, int F, i64 n)
        {
            SER_LOOP(i, n) {
                int width = C * F;
                int k = (int)(i % width);
                i64 r = i / width;
                int t = (int)(r % T);
                int b = (int)(r / T);
                seq[i] = t < len[b] ? maps[(((i64)b * C + k / F) * T + t) * F + k % F] : 0.0f;
            }
        }

        extern "C" __global__ void ser_seq_to_maps(const float* seq, float* maps, const int* len, int C, int T, int F, i64 n)
        {
            SER_LOOP(i, n) {
                int f = (int)(i % F);
                i64 r = i / F;
                int t = (int)(r % T);
                r /= T;
                int c = (int)(r % C);
                int b = (int)(r / C);
                maps[i] = t < len[b] ? seq[((i64)b * T + t) * ((i64)C * F) + (i64)c * F + f] : 0.0f;
            }
        }

        // ---- LSTM glue (CudaLstm.cs) ----------------------------------------------------------------------------

        // Copies between our parameter tensors and cuDNN's weight space: segment s copies seg[3s+2] floats from
        // address seg[3s] (0: zeros) to address seg[3s+1], adding instead when accumulate != 0. grid.y = segment.
        extern "C" __global__ void ser_segments(const u64* seg, int accumulate)
        {
            int s = blockIdx.y;
            const float* src = (const float*)seg[3 * s];
            float* dst = (float*)seg[3 * s + 1];
            i64 count = (i64)seg[3 * s + 2];
            for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (i64)blockDim.x * gridDim.x) {
                float v = src != 0 ? src[i] : 0.0f;
                if (accumulate) dst[i] += v; else dst[i] = v;
            }
        }

        // out [B, 2H]: forward h at each sample's own last valid step, backward h after its step 0, read from
        // cuDNN's padded output y [B, T, 2H] (forward half first).
        extern "C" __global__ void ser_lstm_gather(const float* y, float* out, const int* len, int T, int H, i64 n)
        {
            SER_LOOP(i, n) {
                int j = (int)(i % (2 * H));
                int b = (int)(i / (2 * H));
                int t = j < H ? len[b] - 1 : 0;
                out[i] = y[((i64)b * T + t) * 2 * H + j];
            }
        }

        // The transpose of ser_lstm_gather: dy [B, T, 2H] (cleared before) receives dOut [B, 2H] at the same places.
        extern "C" __global__ void ser_lstm_scatter(const float* dout, float* dy, const int* len, int T, int H, i64 n)
        {
            SER_LOOP(i, n) {
                int j = (int)(i % (2 * H));
                int b = (int)(i / (2 * H));
                int t = j < H ? len[b] - 1 : 0;
                dy[((i64)b * T + t) * 2 * H + j] = dout[i];
            }
        }

        // ---- dense (CpuDense): the GEMMs are cuBLAS ---------------------------------------------------------------

        // y [B, N] += bias [N] per row.
        extern "C" __global__ void ser_add_rows(float* y, const float* bias, int N, i64 n)
        {
            SER_LOOP(i, n) y[i] += bias[(int)(i % N)];
        }

        // db [N] = column sums of dy [B, N], rows in batch order (as the CPU does).
        extern "C" __global__ void ser_column_sums(const float* dy, float* db, int B, int N)
        {
            int j = blockIdx.x * blockDim.x + threadIdx.x;
            if (j >= N) return;
            float s = 0.0f;
            for (int b = 0; b < B; b++) s += dy[(i64)b * N + j];
            db[j] = s;
        }

        // ---- dropout (CpuElementwise): the CPU's counter-based hash, so both backends draw the same mask ---------

        __device__ __forceinline__ u64 ser_mix(u64 z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            return z ^ (z >> 31);
        }

        // Element i is kept when the top 24 bits of mix(seed + i * golden) are >= threshold = p * 2^24.
        // x and y may be the same buffer (in-place dropout).
        extern "C" __global__ void ser_dropout_forward(const float* x, float* y, float* mask, i64 n, u64 seed, u64 threshold, float scale)
        {
            SER_LOOP(i, n) {
                u64 h = ser_mix(seed + (u64)i * 0x9E3779B97F4A7C15ULL);
                float m = (h >> 40) >= threshold ? scale : 0.0f;
                mask[i] = m;
                y[i] = x[i] * m;
            }
        }

        extern "C" __global__ void ser_dropout_backward(const float* dy, const float* mask, float* dx, i64 n)
        {
            SER_LOOP(i, n) dx[i] = dy[i] * mask[i];
        }

        // ---- loss (CpuLoss) --------------------------------------------------------------------------------------

        // Weighted softmax cross-entropy over logits [B, K], in double like the CPU. One block: each thread takes
        // samples b = threadIdx.x, +blockDim.x, ...; sums run on thread 0 in batch order (deterministic).
        //   perSample[b] = CE_b, correct[b] = (first argmax == label), result = {loss, correct count},
        //   dlogits (unless 0) = (w_b / norm) (softmax_b - onehot(y_b)),
        //   totals (unless 0) += {loss, correct, B, 1}: the queued-step accumulator read once per epoch.
        // norm: what the weighted sum is divided by (the caller's constant, or the batch's sum of weights).
        // __launch_bounds__ = CudaKernels.SoftmaxMaxThreads: the launch never uses more.
        extern "C" __global__ void __launch_bounds__(256) ser_softmax_xent(const float* logits, const int* labels, const double* weights, float* dlogits,
            double* perSample, int* correct, double* result, double* totals, int B, int K, double norm)
        {
            for (int b = threadIdx.x; b < B; b += blockDim.x) {
                const float* row = logits + (i64)b * K;
                int y = labels[b];
                double m = (double)row[0];
                for (int j = 1; j < K; j++) m = fmax(m, (double)row[j]);
                double sum = 0.0;
                for (int j = 0; j < K; j++) sum += exp((double)row[j] - m);
                double logSum = log(sum) + m;
                perSample[b] = logSum - (double)row[y];
                int best = 0;
                for (int j = 1; j < K; j++) if (row[j] > row[best]) best = j;
                correct[b] = best == y ? 1 : 0;
                if (dlogits != 0) {
                    double scale = weights[b] / norm;
                    for (int j = 0; j < K; j++)
                        dlogits[(i64)b * K + j] = (float)(scale * (exp((double)row[j] - logSum) - (j == y ? 1.0 : 0.0)));
                }
            }
            __syncthreads();
            if (threadIdx.x == 0) {
                double loss = 0.0;
                int right = 0;
                for (int b = 0; b < B; b++) {
                    loss += weights[b] * perSample[b];
                    right += correct[b];
                }
                loss /= norm;
                result[0] = loss;
                result[1] = (double)right;
                if (totals != 0) {
                    totals[0] += loss;
                    totals[1] += (double)right;
                    totals[2] += (double)B;
                    totals[3] += 1.0;
                }
            }
        }

        // ---- optimizer (CpuAdam, CpuElementwise reductions) ------------------------------------------------------

        // Sum of squares, stage 1: a fixed grid of 256 blocks x 256 threads, each block's partial in double.
        extern "C" __global__ void ser_sumsq_partial(const float* x, i64 n, double* partial)
        {
            __shared__ double red[256];
            double s = 0.0;
            for (i64 i = (i64)blockIdx.x * 256 + threadIdx.x; i < n; i += (i64)256 * gridDim.x) {
                double v = (double)x[i];
                s += v * v;
            }
            red[threadIdx.x] = s;
            __syncthreads();
            for (int w = 128; w > 0; w >>= 1) {
                if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
                __syncthreads();
            }
            if (threadIdx.x == 0) partial[blockIdx.x] = red[0];
        }

        // Stage 2: out[0] = sum of the partials in order (one thread).
        extern "C" __global__ void ser_sum_final(const double* partial, int count, double* out)
        {
            if (blockIdx.x != 0 || threadIdx.x != 0) return;
            double s = 0.0;
            for (int i = 0; i < count; i++) s += partial[i];
            out[0] = s;
        }

        extern "C" __global__ void ser_scale(float* x, float factor, i64 n)
        {
            SER_LOOP(i, n) x[i] *= factor;
        }

        // Adam(W), the CPU's formula and operation order:
        //   g = grad * gs; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2
        //   p = p - lr * (m / c1) / (sqrt(v / c2) + eps) - lr * wd * p      (ic1 = 1/c1, ic2 = 1/c2, decay = lr * wd)
        extern "C" __global__ void ser_adam(float* p, const float* grad, float* m, float* v, i64 n,
            float b1, float nb1, float b2, float nb2, float ic1, float ic2, float eps, float lr, float decay, float gs)
        {
            SER_LOOP(i, n) {
                float gi = grad[i] * gs;
                float mi = m[i] * b1 + gi * nb1;
                float vi = v[i] * b2 + gi * gi * nb2;
                float pi = p[i];
                float step = mi * ic1 / (sqrtf(vi * ic2) + eps);
                pi = pi - step * lr - pi * decay;
                m[i] = mi;
                v[i] = vi;
                p[i] = pi;
            }
        }
        """;
}

/// <summary>One NVRTC program of our own kernels: its CUDA C, its name in NVRTC's messages and the options it compiles
/// with (<see cref="CudaDevice.LoadModule(CudaKernelSet)"/>).</summary>
internal sealed record CudaKernelSet(string Source, string ProgramName, IReadOnlyList<string> Options);
