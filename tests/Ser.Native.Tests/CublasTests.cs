namespace Ser.Native.Tests;

/// <summary>cuBLAS SGEMM against a CPU GEMM (double accumulation). Skip without a GPU.</summary>
[Collection("Gpu")]
public class CublasTests
{
    // Row-major C[M,N] = A[M,K] B[K,N], the reference in double.
    static double[] Gemm(float[] a, float[] b, int m, int n, int k, out double[] scale)
    {
        var c = new double[m * n];
        scale = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int p = 0; p < k; p++)
                {
                    c[i * n + j] += (double)a[i * k + p] * b[p * n + j];
                    scale[i * n + j] += Math.Abs((double)a[i * k + p] * b[p * n + j]);
                }
        return c;
    }

    [Fact]
    public unsafe void Sgemm_matches_a_cpu_gemm()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        d.MakeCurrent();
        const int M = 67, N = 45, K = 123;
        float[] a = TestSignals.Uniform(M * K, 10), b = TestSignals.Uniform(K * N, 11);
        using var da = d.Upload<float>(a);
        using var db = d.Upload<float>(b);
        using var dc = d.Allocate<float>(M * N);
        using var blas = CublasHandle.Create(d.Stream);

        // cuBLAS is column-major: a row-major C = A B is the column-major C^T = B^T A^T.
        float alpha = 1, beta = 0;
        Cublas.Check(CublasNative.cublasSgemm_v2(blas.Value, CublasOperation.N, CublasOperation.N,
            N, M, K, &alpha, db.Pointer, N, da.Pointer, K, &beta, dc.Pointer, N));
        float[] c = d.Download<float>(dc, M * N);

        double[] expected = Gemm(a, b, M, N, K, out double[] scale);
        // Plain FP32 (no TF32): errors stay near float epsilon times the sum of |products|.
        for (int i = 0; i < c.Length; i++)
            Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-5 * scale[i] + 1e-6, $"C[{i}] = {c[i]}, expected {expected[i]}");
    }

    [Fact]
    public unsafe void Strided_batched_sgemm_matches_per_batch_cpu_gemms()
    {
        Assert.SkipUnless(Gpu.Available, Gpu.Reason);
        var d = Gpu.Device;
        d.MakeCurrent();
        const int Batch = 3, M = 8, N = 5, K = 7;
        float[] a = TestSignals.Uniform(Batch * M * K, 12), b = TestSignals.Uniform(Batch * K * N, 13);
        using var da = d.Upload<float>(a);
        using var db = d.Upload<float>(b);
        using var dc = d.Allocate<float>(Batch * M * N);
        using var blas = CublasHandle.Create(d.Stream);

        float alpha = 2, beta = 0;
        Cublas.Check(CublasNative.cublasSgemmStridedBatched(blas.Value, CublasOperation.N, CublasOperation.N,
            N, M, K, &alpha, db.Pointer, N, K * N, da.Pointer, K, M * K, &beta, dc.Pointer, N, M * N, Batch));
        float[] c = d.Download<float>(dc, Batch * M * N);

        for (int t = 0; t < Batch; t++)
        {
            double[] expected = Gemm(a[(t * M * K)..((t + 1) * M * K)], b[(t * K * N)..((t + 1) * K * N)], M, N, K, out double[] scale);
            for (int i = 0; i < M * N; i++)
                Assert.True(Math.Abs(c[t * M * N + i] - 2 * expected[i]) <= 2e-5 * scale[i] + 1e-6, $"batch {t} C[{i}]");
        }
    }
}
