using System.Numerics;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Max pooling 2x2, stride 2, ceil mode, over valid frames only.
// x [B, C, T, F] with lengths V_b -> y [B, C, ceil(T/2), ceil(F/2)], valid output frames ceil(V_b/2); output frame t'
// is the max over input frames {2t', 2t'+1} ∩ [0, V_b) and bins {2f', 2f'+1} ∩ [0, F). Frames t' >= ceil(V_b/2) are 0.
// Backward routes each output's gradient to the window's FIRST maximum in (row, column) order - PyTorch's rule.
// Parallel over (b, c) planes.
internal sealed unsafe partial class CpuBackend<T>
{
    T* _plX, _plY, _plDy, _plDx;
    int _plC, _plT, _plF;
    bool _plBackward;
    Action<int, int>? _poolBody;

    protected override void PoolForwardCore(TensorView x, TensorView y, ReadOnlySpan<int> lengths) =>
        RunPool(x, y, default, default, lengths, backward: false);

    protected override void PoolBackwardCore(TensorView x, TensorView y, TensorView dy, TensorView dx, ReadOnlySpan<int> lengths) =>
        RunPool(x, y, dy, dx, lengths, backward: true);

    void RunPool(TensorView x, TensorView y, TensorView dy, TensorView dx, ReadOnlySpan<int> lengths, bool backward)
    {
        _plX = Ptr(x); _plY = Ptr(y);
        _plDy = backward ? Ptr(dy) : null;
        _plDx = backward ? Ptr(dx) : null;
        _plC = x.Shape.D1; _plT = x.Shape.D2; _plF = x.Shape.D3; _plBackward = backward;
        Park(lengths);
        _poolBody ??= PoolItem;
        _pool.Run(_poolBody, x.Shape.D0 * _plC);
    }

    void PoolItem(int item, int worker)
    {
        int b = item / _plC, t = _plT, f = _plF, to = (t + 1) / 2, fo = (f + 1) / 2;
        int valid = _len[b], validOut = (valid + 1) / 2;
        T* x = _plX + (long)item * t * f;
        T* y = _plY + (long)item * to * fo;
        if (!_plBackward)
        {
            for (int r = 0; r < validOut; r++)
            {
                T* x0 = x + (long)(2 * r) * f;
                T* x1 = 2 * r + 1 < valid ? x0 + f : null;
                T* yr = y + (long)r * fo;
                for (int c = 0; c < fo; c++)
                {
                    int f0 = 2 * c;
                    bool two = f0 + 1 < f;
                    T m = x0[f0];
                    if (two && x0[f0 + 1] > m) m = x0[f0 + 1];
                    if (x1 != null)
                    {
                        if (x1[f0] > m) m = x1[f0];
                        if (two && x1[f0 + 1] > m) m = x1[f0 + 1];
                    }
                    yr[c] = m;
                }
            }
            new Span<T>(y + (long)validOut * fo, (to - validOut) * fo).Clear();
            return;
        }

        T* dy = _plDy + (long)item * to * fo;
        T* dx = _plDx + (long)item * t * f;
        new Span<T>(dx, t * f).Clear();
        for (int r = 0; r < validOut; r++)
        {
            T* x0 = x + (long)(2 * r) * f;
            T* x1 = 2 * r + 1 < valid ? x0 + f : null;
            T* yr = y + (long)r * fo;
            T* dyr = dy + (long)r * fo;
            T* dx0 = dx + (long)(2 * r) * f;
            for (int c = 0; c < fo; c++)
            {
                int f0 = 2 * c;
                bool two = f0 + 1 < f;
                T m = yr[c], g = dyr[c];
                // the first element equal to the window max gets the gradient
                if (x0[f0] == m) dx0[f0] = g;
                else if (two && x0[f0 + 1] == m) dx0[f0 + 1] = g;
                else if (x1 != null && x1[f0] == m) dx0[f + f0] = g;
                else if (x1 != null && two && x1[f0 + 1] == m) dx0[f + f0 + 1] = g;
            }
        }
    }
}
