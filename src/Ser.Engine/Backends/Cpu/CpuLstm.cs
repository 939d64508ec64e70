using System.Numerics;
using System.Numerics.Tensors;
using Ser.Engine.Tensors;

namespace Ser.Engine.Backends.Cpu;

// Bidirectional LSTM, PyTorch gate order (i, f, g, o), single bias per direction, c and h start at zero.
// The valid steps of all samples are packed row after row (N = sum_b V_b rows; sample b starts at row R_b), so the
// input projections and the weight gradients are single GEMMs over real frames only:
//   pre_d [N, 4H] = Xp [N, I] W_ih_d^T                       (ParallelGemm, then + bias and + W_hh h in the recurrence)
//   dW_ih_d = dG_d^T Xp,  dW_hh_d = dG_d^T Hprev_d,  db_d = column sums of dG_d,  dXp = sum_d dG_d W_ih_d
// The recurrences run per (sample, direction) in parallel. Forward direction: t = 0..V_b-1, output h[V_b-1];
// backward direction: t = V_b-1..0 (from the sample's own last step), output h[0].
// Reserve (saved for backward), per direction: gates [N, 4H] after activation, cell [N, H], hidden [N, H].
// Workspace: Xp [N, I], dG [2, N, 4H], Hprev [N, H], per-worker vectors [workers, 4H], W_hh^T [2, H, 4H].
internal sealed unsafe partial class CpuBackend<T>
{
    int[] _rowStart = new int[65];

    // Packed rows: N = sum of valid lengths <= maxRows, whatever B and T are.
    // The CPU forward computes its gates and cells in the reserve whether or not a backward follows: the mode changes
    // nothing here (the CUDA backend's cuDNN forward skips saving them in inference mode).
    protected override long LstmReserveCore(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training) =>
        2L * maxRows * 6 * desc.Hidden;

    protected override long LstmWorkspaceCore(in LstmDesc desc, int maxBatch, int maxFrames, long maxRows, bool training)
    {
        long n = maxRows;
        return n * desc.InputSize + 2 * n * desc.Gates + n * desc.Hidden + (long)Workers * 4 * desc.Hidden +
               2L * desc.Hidden * desc.Gates;
    }

    // where the current call's buffers are (set before each parallel phase)
    T* _lSeq, _lXp, _lOut, _lReserve, _lDg, _lHprev, _lScratch, _lDout, _lWhhT;
    T* _lWhh0, _lWhh1, _lB0, _lB1;
    int _lT, _lI, _lH, _lN, _lBatch;
    bool _lUnpack;
    Action<int, int>? _packBody, _recurrenceBody, _recurrenceBackBody, _hprevBody;

    /// <summary>Row offsets R_b of each sample and the total N.</summary>
    int PlanRows(ReadOnlySpan<int> lengths)
    {
        if (_rowStart.Length < lengths.Length + 1) _rowStart = new int[2 * lengths.Length + 1];
        int n = 0;
        for (int b = 0; b < lengths.Length; b++) { _rowStart[b] = n; n += lengths[b]; }
        _rowStart[lengths.Length] = n;
        return n;
    }

    T* Gates(int d) => _lReserve + (long)d * _lN * 6 * _lH;           // [N, 4H]
    T* Cells(int d) => Gates(d) + (long)_lN * 4 * _lH;                 // [N, H]
    T* Hidden(int d) => Cells(d) + (long)_lN * _lH;                    // [N, H]

    void SetupLstm(in LstmDesc desc, TensorView sequence, in LstmParams w, TensorView reserve, TensorView workspace, ReadOnlySpan<int> lengths)
    {
        int batch = sequence.Shape.D0, frames = sequence.Shape.D1;
        _lN = PlanRows(lengths);
        _lBatch = batch; _lT = frames; _lI = desc.InputSize; _lH = desc.Hidden;
        long needReserve = 2L * _lN * 6 * _lH;
        long needWork = (long)_lN * _lI + 2L * _lN * desc.Gates + (long)_lN * _lH + (long)Workers * 4 * _lH + 2L * _lH * desc.Gates;
        CheckWorkspace(reserve, needReserve, "lstm reserve");
        CheckWorkspace(workspace, needWork, "lstm workspace");
        _lSeq = Ptr(sequence); _lReserve = Ptr(reserve);
        _lXp = Ptr(workspace);
        _lDg = _lXp + (long)_lN * _lI;
        _lHprev = _lDg + 2L * _lN * desc.Gates;
        _lScratch = _lHprev + (long)_lN * _lH;
        _lWhhT = _lScratch + (long)Workers * 4 * _lH;
        _lWhh0 = Ptr(w.FwHh); _lWhh1 = Ptr(w.BwHh); _lB0 = Ptr(w.FwBias); _lB1 = Ptr(w.BwBias);
        Park(lengths);
    }

    protected override void LstmForwardCore(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView output,
        TensorView reserve, TensorView workspace, ReadOnlySpan<int> lengths, bool training)
    {
        SetupLstm(desc, sequence, weights, reserve, workspace, lengths);
        _lOut = Ptr(output);
        _lUnpack = false;
        _packBody ??= PackRows;
        _pool.Run(_packBody, _lBatch);
        for (int d = 0; d < 2; d++)
            ParallelGemm(false, true, _lN, desc.Gates, _lI, _lXp, _lI, Ptr(weights.Ih(d)), _lI, Gates(d), desc.Gates, accumulate: false);
        // W_hh^T [H, 4H] per direction, so each step's W_hh h is a register-blocked combination of rows
        for (int d = 0; d < 2; d++)
        {
            T* w = Ptr(weights.Hh(d)), wt = _lWhhT + (long)d * _lH * desc.Gates;
            for (int r = 0; r < desc.Gates; r++)
            for (int j = 0; j < _lH; j++) wt[(long)j * desc.Gates + r] = w[(long)r * _lH + j];
        }
        _recurrenceBody ??= RecurrenceItem;
        _pool.Run(_recurrenceBody, 2 * _lBatch);
    }

    void PackRows(int b, int worker)
    {
        int valid = _len[b], width = _lI;
        var padded = new Span<T>(_lSeq + (long)b * _lT * width, _lT * width);
        var packed = new Span<T>(_lXp + (long)_rowStart[b] * width, valid * width);
        if (_lUnpack)
        {
            packed.CopyTo(padded);
            padded[(valid * width)..].Clear();
        }
        else padded[..(valid * width)].CopyTo(packed);
    }

    /// <summary>One direction of one sample: the recurrence over its valid steps.</summary>
    void RecurrenceItem(int item, int worker)
    {
        int b = item >> 1, d = item & 1, h = _lH, g4 = 4 * h, valid = _len[b];
        T* whhT = _lWhhT + (long)d * h * g4;
        T* bias = d == 0 ? _lB0 : _lB1;
        T* gates = Gates(d), cells = Cells(d), hidden = Hidden(d);
        T* hPrev = null, cPrev = null;
        for (int s = 0; s < valid; s++)
        {
            int t = d == 0 ? s : valid - 1 - s;
            long row = _rowStart[b] + t;
            T* g = gates + row * g4;
            AddTo(bias, g, g4);
            if (hPrev != null) AccumulateRows(whhT, hPrev, g, h, g4); // g += W_hh h
            var gs = new Span<T>(g, g4);
            TensorPrimitives.Sigmoid(gs[..(2 * h)], gs[..(2 * h)]);           // i, f
            TensorPrimitives.Tanh(gs.Slice(2 * h, h), gs.Slice(2 * h, h));     // g
            TensorPrimitives.Sigmoid(gs.Slice(3 * h, h), gs.Slice(3 * h, h));  // o
            T* c = cells + row * h, hh = hidden + row * h;
            for (int j = 0; j < h; j++)
            {
                T cj = g[j] * g[2 * h + j];
                if (cPrev != null) cj += g[h + j] * cPrev[j];
                c[j] = cj;
            }
            var hs = new Span<T>(hh, h);
            TensorPrimitives.Tanh(new ReadOnlySpan<T>(c, h), hs);
            TensorPrimitives.Multiply(hs, new ReadOnlySpan<T>(g + 3 * h, h), hs);
            hPrev = hh;
            cPrev = c;
        }
        new Span<T>(hPrev, h).CopyTo(new Span<T>(_lOut + (long)b * 2 * h + d * h, h));
    }

    protected override void LstmBackwardCore(in LstmDesc desc, TensorView sequence, in LstmParams weights, TensorView reserve,
        TensorView dOutput, TensorView dSequence, in LstmParams dWeights, TensorView workspace, ReadOnlySpan<int> lengths)
    {
        SetupLstm(desc, sequence, weights, reserve, workspace, lengths);
        _lDout = Ptr(dOutput);
        int g4 = desc.Gates;
        _lUnpack = false;
        _packBody ??= PackRows;
        _pool.Run(_packBody, _lBatch);
        _recurrenceBackBody ??= RecurrenceBackItem;
        _pool.Run(_recurrenceBackBody, 2 * _lBatch);

        _hprevBody ??= HprevItem;
        for (int d = 0; d < 2; d++)
        {
            T* dg = _lDg + (long)d * _lN * g4;
            _lHprevDirection = d;
            _pool.Run(_hprevBody, _lBatch);
            ParallelGemm(true, false, g4, _lH, _lN, dg, g4, _lHprev, _lH, Ptr(dWeights.Hh(d)), _lH, accumulate: false);
            ParallelGemm(true, false, g4, _lI, _lN, dg, g4, _lXp, _lI, Ptr(dWeights.Ih(d)), _lI, accumulate: false);
            T* db = Ptr(dWeights.Bias(d));
            new Span<T>(db, g4).Clear();
            for (int r = 0; r < _lN; r++) AddTo(dg + (long)r * g4, db, g4);
        }
        if (dSequence.IsEmpty) return;
        // Xp is free now: dXp = dG_fw W_ih_fw + dG_bw W_ih_bw, then unpack into the padded [B, T, I].
        ParallelGemm(false, false, _lN, _lI, g4, _lDg, g4, Ptr(weights.FwIh), _lI, _lXp, _lI, accumulate: false);
        ParallelGemm(false, false, _lN, _lI, g4, _lDg + (long)_lN * g4, g4, Ptr(weights.BwIh), _lI, _lXp, _lI, accumulate: true);
        _lSeq = Ptr(dSequence);
        _lUnpack = true;
        _pool.Run(_packBody, _lBatch);
    }

    int _lHprevDirection;

    /// <summary>Hprev_d row (b, t) = the hidden state the step at t read: h[t-1] forward, h[t+1] backward, 0 at the start.</summary>
    void HprevItem(int b, int worker)
    {
        int d = _lHprevDirection, h = _lH, valid = _len[b];
        T* hidden = Hidden(d);
        for (int t = 0; t < valid; t++)
        {
            long row = _rowStart[b] + t;
            int from = d == 0 ? t - 1 : t + 1;
            var dst = new Span<T>(_lHprev + row * h, h);
            if (from < 0 || from >= valid) dst.Clear();
            else new Span<T>(hidden + (_rowStart[b] + from) * h, h).CopyTo(dst);
        }
    }

    /// <summary>Backpropagation through one direction of one sample; writes dG_d rows (pre-activation gate gradients).</summary>
    void RecurrenceBackItem(int item, int worker)
    {
        int b = item >> 1, d = item & 1, h = _lH, g4 = 4 * h, valid = _len[b];
        T* whh = d == 0 ? _lWhh0 : _lWhh1;
        T* gates = Gates(d), cells = Cells(d);
        T* dgAll = _lDg + (long)d * _lN * g4;
        T* dh = _lScratch + (long)worker * 4 * h;   // [H] gradient w.r.t. h at the current step
        T* dc = dh + h;                             // [H] gradient w.r.t. c at the current step
        new Span<T>(_lDout + (long)b * 2 * h + d * h, h).CopyTo(new Span<T>(dh, h));
        new Span<T>(dc, h).Clear();
        T one = T.One;
        // walk the direction's steps in reverse: s = valid-1 .. 0, t its frame
        for (int s = valid - 1; s >= 0; s--)
        {
            int t = d == 0 ? s : valid - 1 - s;
            long row = _rowStart[b] + t;
            T* g = gates + row * g4;
            T* c = cells + row * h;
            T* cPrev = s > 0 ? cells + (_rowStart[b] + (d == 0 ? t - 1 : t + 1)) * h : null;
            T* dg = dgAll + row * g4;
            for (int j = 0; j < h; j++)
            {
                T i = g[j], f = g[h + j], gg = g[2 * h + j], o = g[3 * h + j];
                T tc = T.Tanh(c[j]);
                T dcj = dc[j] + dh[j] * o * (one - tc * tc);
                dg[j] = dcj * gg * i * (one - i);                                   // d pre_i
                dg[h + j] = cPrev != null ? dcj * cPrev[j] * f * (one - f) : T.Zero;  // d pre_f
                dg[2 * h + j] = dcj * i * (one - gg * gg);                          // d pre_g
                dg[3 * h + j] = dh[j] * tc * o * (one - o);                         // d pre_o
                dc[j] = dcj * f;
            }
            if (s == 0) break;
            // dh for the previous step = W_hh^T dg
            new Span<T>(dh, h).Clear();
            AccumulateRows(whh, dg, dh, g4, h);
        }
    }
}
