namespace Ser.Native.Tests;

/// <summary>
/// cuDNN 9 bindings against CPU references: convolution forward/backward, bias, max pooling, ReLU,
/// and a bidirectional LSTM through the RNN v8 API with padded (unpacked) sequences, whose gradients
/// are checked against finite differences of a double-precision CPU LSTM. Skip without a GPU.
/// Legend: N batch, C/K channels in/out, H×W image, R×S filter; LSTM: B batch, T steps, I inputs, Hd hidden.
/// </summary>
[Collection("Gpu")]
public class CudnnTests
{
    static void Close(double expected, double got, double tolerance, string what) =>
        Assert.True(Math.Abs(expected - got) <= tolerance, $"{what}: got {got}, expected {expected}");

    [Fact]
    public void Version_is_cudnn_9()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        Assert.StartsWith("9.", Cudnn.Version());
    }

    [Fact]
    public unsafe void Convolution_forward_backward_and_bias_match_the_cpu()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        d.MakeCurrent();
        const int N = 2, C = 3, H = 9, W = 11, K = 4, R = 3, S = 5, PadH = 1, PadW = 2;
        float[] x = TestSignals.Uniform(N * C * H * W, 20);       // [N, C, H, W]
        float[] w = TestSignals.Uniform(K * C * R * S, 21);       // [K, C, R, S]
        float[] dy = TestSignals.Uniform(N * K * H * W, 22);      // [N, K, H, W] ("same" output size)
        float[] bias = TestSignals.Uniform(K, 23);                // [K]

        // CPU cross-correlation and its two gradients, in double.
        var y = new double[N * K * H * W];
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[K];
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++)
                for (int i = 0; i < H; i++)
                    for (int j = 0; j < W; j++)
                    {
                        int o = ((n * K + k) * H + i) * W + j;
                        db[k] += dy[o];
                        for (int c = 0; c < C; c++)
                            for (int p = 0; p < R; p++)
                                for (int q = 0; q < S; q++)
                                {
                                    int a = i + p - PadH, b = j + q - PadW;
                                    if (a < 0 || a >= H || b < 0 || b >= W)
                                        continue;
                                    int xi = ((n * C + c) * H + a) * W + b, wi = ((k * C + c) * R + p) * S + q;
                                    y[o] += (double)x[xi] * w[wi];
                                    dx[xi] += (double)dy[o] * w[wi];
                                    dw[wi] += (double)dy[o] * x[xi];
                                }
                    }

        using var handle = CudnnHandle.Create(d.Stream);
        using var xDesc = CudnnTensorDescriptor.Create4d(N, C, H, W);
        using var yDesc = CudnnTensorDescriptor.Create4d(N, K, H, W);
        using var bDesc = CudnnTensorDescriptor.Create4d(1, K, 1, 1);
        using var wDesc = CudnnFilterDescriptor.Create4d(K, C, R, S);
        using var conv = CudnnConvolutionDescriptor.Create2d(PadH, PadW);
        int on, oc, oh, ow;
        Cudnn.Check(CudnnNative.cudnnGetConvolution2dForwardOutputDim(conv.Value, xDesc.Value, wDesc.Value, &on, &oc, &oh, &ow));
        Assert.Equal((N, K, H, W), (on, oc, oh, ow));

        using var gx = d.Upload<float>(x);
        using var gw = d.Upload<float>(w);
        using var gdy = d.Upload<float>(dy);
        using var gb = d.Upload<float>(bias);
        using var gy = d.Allocate<float>(y.Length);
        using var gdx = d.Allocate<float>(x.Length);
        using var gdw = d.Allocate<float>(w.Length);
        using var gdb = d.Allocate<float>(K);
        using var workspace = d.Allocate<byte>(64 << 20);
        float alpha = 1, beta = 0, one = 1;
        CudnnAlgoPerf* perf = stackalloc CudnnAlgoPerf[16];
        int returned;

        // Forward: FindEx (which runs the candidates, writing y) must offer a working algorithm; the result
        // checked is the heuristic's first usable one, run last.
        Cudnn.Check(CudnnNative.cudnnFindConvolutionForwardAlgorithmEx(handle.Value, xDesc.Value, gx.Pointer, wDesc.Value, gw.Pointer, conv.Value,
            yDesc.Value, gy.Pointer, 16, &returned, perf, workspace.Pointer, (nuint)workspace.Bytes));
        FirstUsable(perf, returned);
        Cudnn.Check(CudnnNative.cudnnGetConvolutionForwardAlgorithm_v7(handle.Value, xDesc.Value, wDesc.Value, conv.Value, yDesc.Value, 16, &returned, perf));
        var fwd = (CudnnConvolutionFwdAlgo)FirstUsable(perf, returned);
        nuint size;
        Cudnn.Check(CudnnNative.cudnnGetConvolutionForwardWorkspaceSize(handle.Value, xDesc.Value, wDesc.Value, conv.Value, yDesc.Value, fwd, &size));
        Assert.True(size <= (nuint)workspace.Bytes);
        Cudnn.Check(CudnnNative.cudnnConvolutionForward(handle.Value, &alpha, xDesc.Value, gx.Pointer, wDesc.Value, gw.Pointer, conv.Value,
            fwd, workspace.Pointer, size, &beta, yDesc.Value, gy.Pointer));
        float[] gotY = d.Download<float>(gy, y.Length);
        for (int i = 0; i < y.Length; i++)
            Close(y[i], gotY[i], 1e-4, $"y[{i}] ({fwd})");

        // Bias: y += b broadcast over N, H, W.
        Cudnn.Check(CudnnNative.cudnnAddTensor(handle.Value, &alpha, bDesc.Value, gb.Pointer, &one, yDesc.Value, gy.Pointer));
        float[] biased = d.Download<float>(gy, y.Length);
        for (int i = 0; i < y.Length; i++)
            Close(gotY[i] + bias[i / (H * W) % K], biased[i], 1e-5, $"y+b[{i}]");

        // Backward data.
        Cudnn.Check(CudnnNative.cudnnGetConvolutionBackwardDataAlgorithm_v7(handle.Value, wDesc.Value, yDesc.Value, conv.Value, xDesc.Value, 16, &returned, perf));
        var bwdData = (CudnnConvolutionBwdDataAlgo)FirstUsable(perf, returned);
        Cudnn.Check(CudnnNative.cudnnGetConvolutionBackwardDataWorkspaceSize(handle.Value, wDesc.Value, yDesc.Value, conv.Value, xDesc.Value, bwdData, &size));
        Cudnn.Check(CudnnNative.cudnnConvolutionBackwardData(handle.Value, &alpha, wDesc.Value, gw.Pointer, yDesc.Value, gdy.Pointer, conv.Value,
            bwdData, workspace.Pointer, size, &beta, xDesc.Value, gdx.Pointer));
        float[] gotDx = d.Download<float>(gdx, dx.Length);
        for (int i = 0; i < dx.Length; i++)
            Close(dx[i], gotDx[i], 1e-4, $"dx[{i}] ({bwdData})");
        Cudnn.Check(CudnnNative.cudnnFindConvolutionBackwardDataAlgorithmEx(handle.Value, wDesc.Value, gw.Pointer, yDesc.Value, gdy.Pointer, conv.Value,
            xDesc.Value, gdx.Pointer, 16, &returned, perf, workspace.Pointer, (nuint)workspace.Bytes));
        FirstUsable(perf, returned);

        // Backward filter.
        Cudnn.Check(CudnnNative.cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle.Value, xDesc.Value, yDesc.Value, conv.Value, wDesc.Value, 16, &returned, perf));
        var bwdFilter = (CudnnConvolutionBwdFilterAlgo)FirstUsable(perf, returned);
        Cudnn.Check(CudnnNative.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle.Value, xDesc.Value, yDesc.Value, conv.Value, wDesc.Value, bwdFilter, &size));
        Cudnn.Check(CudnnNative.cudnnConvolutionBackwardFilter(handle.Value, &alpha, xDesc.Value, gx.Pointer, yDesc.Value, gdy.Pointer, conv.Value,
            bwdFilter, workspace.Pointer, size, &beta, wDesc.Value, gdw.Pointer));
        float[] gotDw = d.Download<float>(gdw, dw.Length);
        for (int i = 0; i < dw.Length; i++)
            Close(dw[i], gotDw[i], 2e-4, $"dw[{i}] ({bwdFilter})");
        Cudnn.Check(CudnnNative.cudnnFindConvolutionBackwardFilterAlgorithmEx(handle.Value, xDesc.Value, gx.Pointer, yDesc.Value, gdy.Pointer, conv.Value,
            wDesc.Value, gdw.Pointer, 16, &returned, perf, workspace.Pointer, (nuint)workspace.Bytes));
        FirstUsable(perf, returned);

        // Bias gradient.
        Cudnn.Check(CudnnNative.cudnnConvolutionBackwardBias(handle.Value, &alpha, yDesc.Value, gdy.Pointer, &beta, bDesc.Value, gdb.Pointer));
        float[] gotDb = d.Download<float>(gdb, K);
        for (int k = 0; k < K; k++)
            Close(db[k], gotDb[k], 1e-4, $"db[{k}]");
    }

    static unsafe int FirstUsable(CudnnAlgoPerf* perf, int count)
    {
        for (int i = 0; i < count; i++)
            if (perf[i].Status == CudnnStatus.Success)
                return perf[i].Algo;
        Assert.Fail($"cuDNN offered no usable algorithm among {count}");
        return -1;
    }

    [Fact]
    public unsafe void Max_pooling_and_relu_forward_and_backward_match_the_cpu()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        d.MakeCurrent();
        const int C = 2, H = 6, W = 8;
        // Distinct values so every pooling window has one maximum.
        var r = new Random(30);
        float[] x = Enumerable.Range(0, C * H * W).Select(i => i * 0.01f - 0.4f).OrderBy(_ => r.Next()).ToArray();  // [1, C, H, W]
        float[] dy = TestSignals.Uniform(C * (H / 2) * (W / 2), 31);                                                // [1, C, H/2, W/2]

        using var handle = CudnnHandle.Create(d.Stream);
        using var xDesc = CudnnTensorDescriptor.Create4d(1, C, H, W);
        using var yDesc = CudnnTensorDescriptor.Create4d(1, C, H / 2, W / 2);
        using var pool = CudnnPoolingDescriptor.Create2d(CudnnPoolingMode.Max, 2, 2, 0, 0, 2, 2);
        int pn, pc, ph, pw;
        Cudnn.Check(CudnnNative.cudnnGetPooling2dForwardOutputDim(pool.Value, xDesc.Value, &pn, &pc, &ph, &pw));
        Assert.Equal((1, C, H / 2, W / 2), (pn, pc, ph, pw));

        using var gx = d.Upload<float>(x);
        using var gy = d.Allocate<float>(dy.Length);
        using var gdy = d.Upload<float>(dy);
        using var gdx = d.Allocate<float>(x.Length);
        float alpha = 1, beta = 0;
        Cudnn.Check(CudnnNative.cudnnPoolingForward(handle.Value, pool.Value, &alpha, xDesc.Value, gx.Pointer, &beta, yDesc.Value, gy.Pointer));
        Cudnn.Check(CudnnNative.cudnnPoolingBackward(handle.Value, pool.Value, &alpha, yDesc.Value, gy.Pointer, yDesc.Value, gdy.Pointer,
            xDesc.Value, gx.Pointer, &beta, xDesc.Value, gdx.Pointer));
        float[] y = d.Download<float>(gy, dy.Length), dx = d.Download<float>(gdx, x.Length);

        var expectedDx = new float[x.Length];
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H / 2; i++)
                for (int j = 0; j < W / 2; j++)
                {
                    int best = -1;
                    foreach (int a in new[] { 2 * i, 2 * i + 1 })
                        foreach (int b in new[] { 2 * j, 2 * j + 1 })
                        {
                            int at = (c * H + a) * W + b;
                            if (best < 0 || x[at] > x[best])
                                best = at;
                        }
                    int o = (c * (H / 2) + i) * (W / 2) + j;
                    Assert.Equal(x[best], y[o]);
                    expectedDx[best] = dy[o];
                }
        Assert.Equal(expectedDx, dx);

        // ReLU on the same tensor: y = max(0, x), dx = dy where x > 0.
        float[] dyFull = TestSignals.Uniform(x.Length, 32);
        using var relu = CudnnActivationDescriptor.Create(CudnnActivationMode.Relu);
        using var gr = d.Allocate<float>(x.Length);
        using var gdyFull = d.Upload<float>(dyFull);
        Cudnn.Check(CudnnNative.cudnnActivationForward(handle.Value, relu.Value, &alpha, xDesc.Value, gx.Pointer, &beta, xDesc.Value, gr.Pointer));
        Cudnn.Check(CudnnNative.cudnnActivationBackward(handle.Value, relu.Value, &alpha, xDesc.Value, gr.Pointer, xDesc.Value, gdyFull.Pointer,
            xDesc.Value, gx.Pointer, &beta, xDesc.Value, gdx.Pointer));
        Assert.Equal(x.Select(v => Math.Max(0f, v)).ToArray(), d.Download<float>(gr, x.Length));
        Assert.Equal(x.Select((v, i) => v > 0 ? dyFull[i] : 0f).ToArray(), d.Download<float>(gdx, x.Length));
    }

    // ---- Bidirectional LSTM (PyTorch gate order i, f, g, o; one bias per gate on the input side) ----

    const int B = 3, T = 5, I = 4, Hd = 3;
    static readonly int[] SeqLengths = [5, 3, 1];

    /// <summary>[dir][gate*Hd*I + r*I + c], [dir][gate*Hd*Hd + r*Hd + c], [dir][gate*Hd + r].</summary>
    sealed record LstmWeights(double[][] Wih, double[][] Whh, double[][] Bias)
    {
        public LstmWeights Copy() => new(Wih.Select(a => (double[])a.Clone()).ToArray(), Whh.Select(a => (double[])a.Clone()).ToArray(),
            Bias.Select(a => (double[])a.Clone()).ToArray());
    }

    static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>y [B, T, 2Hd] (zero past each length) and hy [2, B, Hd]: forward over 0..len-1, backward over len-1..0.</summary>
    static double[] Lstm(double[] x, LstmWeights p, out double[] hy)
    {
        var y = new double[B * T * 2 * Hd];
        hy = new double[2 * B * Hd];
        var gates = new double[4 * Hd];
        for (int dir = 0; dir < 2; dir++)
            for (int b = 0; b < B; b++)
            {
                var h = new double[Hd];
                var c = new double[Hd];
                for (int s = 0; s < SeqLengths[b]; s++)
                {
                    int t = dir == 0 ? s : SeqLengths[b] - 1 - s;
                    for (int g = 0; g < 4; g++)
                        for (int r = 0; r < Hd; r++)
                        {
                            double a = p.Bias[dir][g * Hd + r];
                            for (int k = 0; k < I; k++)
                                a += p.Wih[dir][(g * Hd + r) * I + k] * x[(b * T + t) * I + k];
                            for (int k = 0; k < Hd; k++)
                                a += p.Whh[dir][(g * Hd + r) * Hd + k] * h[k];
                            gates[g * Hd + r] = a;
                        }
                    for (int r = 0; r < Hd; r++)
                    {
                        double ig = Sigmoid(gates[r]), fg = Sigmoid(gates[Hd + r]), gg = Math.Tanh(gates[2 * Hd + r]), og = Sigmoid(gates[3 * Hd + r]);
                        c[r] = fg * c[r] + ig * gg;
                        h[r] = og * Math.Tanh(c[r]);
                        y[(b * T + t) * 2 * Hd + dir * Hd + r] = h[r];
                    }
                }
                for (int r = 0; r < Hd; r++)
                    hy[(dir * B + b) * Hd + r] = h[r];
            }
        return y;
    }

    static double Loss(double[] x, LstmWeights p, float[] g) => Lstm(x, p, out _).Select((v, i) => v * g[i]).Sum();

    [Fact]
    public unsafe void Bidirectional_lstm_with_padded_sequences_matches_the_cpu_and_finite_differences()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        d.MakeCurrent();
        var stream = d.Stream;

        float[] xf = TestSignals.Uniform(B * T * I, 40);             // [B, T, I], zero past each length
        float[] gf = TestSignals.Uniform(B * T * 2 * Hd, 41);        // dL/dy [B, T, 2Hd], zero past each length
        for (int b = 0; b < B; b++)
            for (int t = SeqLengths[b]; t < T; t++)
            {
                Array.Clear(xf, (b * T + t) * I, I);
                Array.Clear(gf, (b * T + t) * 2 * Hd, 2 * Hd);
            }
        float[][] wih = [TestSignals.Uniform(4 * Hd * I, 42, 0.5f), TestSignals.Uniform(4 * Hd * I, 43, 0.5f)];
        float[][] whh = [TestSignals.Uniform(4 * Hd * Hd, 44, 0.5f), TestSignals.Uniform(4 * Hd * Hd, 45, 0.5f)];
        float[][] bias = [TestSignals.Uniform(4 * Hd, 46, 0.5f), TestSignals.Uniform(4 * Hd, 47, 0.5f)];
        var weights = new LstmWeights(wih.Select(a => a.Select(v => (double)v).ToArray()).ToArray(),
            whh.Select(a => a.Select(v => (double)v).ToArray()).ToArray(), bias.Select(a => a.Select(v => (double)v).ToArray()).ToArray());
        double[] x = xf.Select(v => (double)v).ToArray();

        using var handle = CudnnHandle.Create(stream);
        long stateBytes = CudnnDropoutDescriptor.StatesSize(handle);
        using var states = d.Allocate<byte>(Math.Max(1, stateBytes));
        using var dropout = CudnnDropoutDescriptor.Create(handle, 0f, states.Pointer, stateBytes, 1234);
        using var rnn = CudnnRnnDescriptor.Create();
        Cudnn.Check(CudnnNative.cudnnSetRNNDescriptor_v8(rnn.Value, CudnnRnnAlgo.Standard, CudnnRnnMode.Lstm, CudnnRnnBiasMode.SingleInpBias,
            CudnnDirectionMode.Bidirectional, CudnnRnnInputMode.LinearInput, CudnnDataType.Float, CudnnDataType.Float, CudnnMathType.Fma,
            I, Hd, Hd, 1, dropout.Value, Cudnn.RnnPaddedIoEnabled));
        using var xData = CudnnRnnDataDescriptor.Create();
        xData.Set(CudnnRnnDataLayout.BatchMajorUnpacked, T, I, SeqLengths);
        using var yData = CudnnRnnDataDescriptor.Create();
        yData.Set(CudnnRnnDataLayout.BatchMajorUnpacked, T, 2 * Hd, SeqLengths);
        using var hDesc = CudnnTensorDescriptor.CreateNd([2, B, Hd], [B * Hd, Hd, 1]);

        // Weight space: every matrix and bias is found through cudnnGetRNNWeightParams.
        nuint weightBytes;
        Cudnn.Check(CudnnNative.cudnnGetRNNWeightSpaceSize(handle.Value, rnn.Value, &weightBytes));
        using var gw = d.Allocate<byte>((long)weightBytes);
        using var gdw = d.Allocate<byte>((long)weightBytes);
        gw.Clear(stream);
        gdw.Clear(stream);
        var matrixAt = new long[2, 8];   // float offsets of each (direction, linear layer) matrix
        var biasAt = new long[2, 8];     // float offsets of its bias, -1 when there is none
        for (int dir = 0; dir < 2; dir++)
            for (int lin = 0; lin < 8; lin++)
            {
                using var mDesc = CudnnTensorDescriptor.Create();
                using var bDesc = CudnnTensorDescriptor.Create();
                ulong mAddr, bAddr;
                Cudnn.Check(CudnnNative.cudnnGetRNNWeightParams(handle.Value, rnn.Value, dir, weightBytes, gw.Pointer, lin, mDesc.Value, &mAddr, bDesc.Value, &bAddr));
                int gate = lin % 4, cols = lin < 4 ? I : Hd;
                Assert.NotEqual(0UL, mAddr);
                int[] dims = mDesc.Dimensions();
                Assert.True(dims.Aggregate(1, (a, v) => a * v) == Hd * cols, $"matrix {dir}/{lin} has dims [{string.Join(",", dims)}]");
                matrixAt[dir, lin] = (long)(mAddr - gw.Pointer) / sizeof(float);
                float[] matrix = (lin < 4 ? wih : whh)[dir][(gate * Hd * cols)..((gate + 1) * Hd * cols)];   // [Hd, cols] row-major
                gw.CopyFrom<float>(matrix, stream, (long)(mAddr - gw.Pointer));
                biasAt[dir, lin] = bAddr == 0 ? -1 : (long)(bAddr - gw.Pointer) / sizeof(float);
                if (bAddr != 0 && lin < 4)
                    gw.CopyFrom<float>(bias[dir][(gate * Hd)..((gate + 1) * Hd)], stream, (long)(bAddr - gw.Pointer));
            }
        Assert.True(biasAt[0, 0] >= 0 && biasAt[1, 3] >= 0, "the input-side biases exist");

        using var gx = d.Upload<float>(xf);
        using var gdy = d.Upload<float>(gf);
        using var seq = d.Upload<int>(SeqLengths);       // devSeqLengths: a device copy of the lengths
        using var gy = d.Allocate<float>(B * T * 2 * Hd);
        using var ghy = d.Allocate<float>(2 * B * Hd);
        using var gcy = d.Allocate<float>(2 * B * Hd);
        using var gdx = d.Allocate<float>(B * T * I);
        nuint workBytes, reserveBytes;
        Cudnn.Check(CudnnNative.cudnnGetRNNTempSpaceSizes(handle.Value, rnn.Value, CudnnForwardMode.Training, xData.Value, &workBytes, &reserveBytes));
        using var work = d.Allocate<byte>(Math.Max(1, (long)workBytes));
        using var reserve = d.Allocate<byte>(Math.Max(1, (long)reserveBytes));

        Cudnn.Check(CudnnNative.cudnnRNNForward(handle.Value, rnn.Value, CudnnForwardMode.Training, seq.Pointer,
            xData.Value, gx.Pointer, yData.Value, gy.Pointer, hDesc.Value, 0, ghy.Pointer, hDesc.Value, 0, gcy.Pointer,
            weightBytes, gw.Pointer, workBytes, work.Pointer, reserveBytes, reserve.Pointer));
        Cudnn.Check(CudnnNative.cudnnRNNBackwardData_v8(handle.Value, rnn.Value, seq.Pointer,
            yData.Value, gy.Pointer, gdy.Pointer, xData.Value, gdx.Pointer, hDesc.Value, 0, 0, 0, hDesc.Value, 0, 0, 0,
            weightBytes, gw.Pointer, workBytes, work.Pointer, reserveBytes, reserve.Pointer));
        // Only CUDNN_WGRAD_MODE_ADD is supported: the gradient space was cleared above.
        Cudnn.Check(CudnnNative.cudnnRNNBackwardWeights_v8(handle.Value, rnn.Value, CudnnWgradMode.Add, seq.Pointer,
            xData.Value, gx.Pointer, hDesc.Value, 0, yData.Value, gy.Pointer,
            weightBytes, gdw.Pointer, workBytes, work.Pointer, reserveBytes, reserve.Pointer));

        float[] y = d.Download<float>(gy, B * T * 2 * Hd), hy = d.Download<float>(ghy, 2 * B * Hd), dx = d.Download<float>(gdx, B * T * I);
        float[] dw = d.Download<float>(gdw, (int)weightBytes / sizeof(float));

        // Forward: outputs at valid steps, the padding fill (0) past them, final states per direction.
        double[] yRef = Lstm(x, weights, out double[] hyRef);
        for (int i = 0; i < y.Length; i++)
            Close(yRef[i], y[i], 2e-5, $"y[{i}]");
        for (int i = 0; i < hy.Length; i++)
            Close(hyRef[i], hy[i], 2e-5, $"hy[{i}]");

        // Backward: dL/dx and dL/dW against central differences of the double-precision CPU LSTM.
        const double Eps = 1e-6;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < SeqLengths[b]; t++)
                for (int k = 0; k < I; k++)
                {
                    int at = (b * T + t) * I + k;
                    double[] plus = (double[])x.Clone(), minus = (double[])x.Clone();
                    plus[at] += Eps;
                    minus[at] -= Eps;
                    double fd = (Loss(plus, weights, gf) - Loss(minus, weights, gf)) / (2 * Eps);
                    Close(fd, dx[at], 1e-4 + 1e-3 * Math.Abs(fd), $"dx[b={b},t={t},i={k}]");
                }
        for (int dir = 0; dir < 2; dir++)
            for (int lin = 0; lin < 8; lin++)
            {
                int gate = lin % 4, cols = lin < 4 ? I : Hd;
                for (int e = 0; e < Hd * cols; e++)
                {
                    double fd = FiniteDifference(x, weights, gf, Eps, p => lin < 4 ? p.Wih[dir] : p.Whh[dir], gate * Hd * cols + e);
                    Close(fd, dw[matrixAt[dir, lin] + e], 1e-4 + 1e-3 * Math.Abs(fd), $"dW[dir={dir},lin={lin}][{e}]");
                }
                if (lin < 4)
                    for (int r = 0; r < Hd; r++)
                    {
                        double fd = FiniteDifference(x, weights, gf, Eps, p => p.Bias[dir], gate * Hd + r);
                        Close(fd, dw[biasAt[dir, lin] + r], 1e-4 + 1e-3 * Math.Abs(fd), $"db[dir={dir},lin={lin}][{r}]");
                    }
            }
    }

    static double FiniteDifference(double[] x, LstmWeights weights, float[] g, double eps, Func<LstmWeights, double[]> select, int index)
    {
        var plus = weights.Copy();
        var minus = weights.Copy();
        select(plus)[index] += eps;
        select(minus)[index] -= eps;
        return (Loss(x, plus, g) - Loss(x, minus, g)) / (2 * eps);
    }
}
