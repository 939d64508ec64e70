using Ser.Engine.Data;
using Ser.Engine.Features;

namespace Ser.Engine.Experiments;

/// <summary>One fixed-length piece: frames [Start, Start + Valid) of utterance (cache item) Item; the rest of the
/// piece's <see cref="FixedLengthPieces.Frames"/> frames is zero padding.</summary>
public readonly record struct Piece(int Item, int Start, int Valid);

/// <summary>
/// The fixed-length baseline's input (Satt et al., as the paper describes it), in two readings
/// (<see cref="FixedSplit"/>): consecutive 3 s pieces (300 frames at the 10 ms hop) whose last one holds the remainder
/// (on the synthetic corpus 16% of pieces carry under 1 s), or ceil(T / 3 s) equal parts of at most 3 s ("sub-sentences
/// of equal lengths"). Either way every piece, and an utterance of 3 s or less, is zero-padded to 3 s.
/// Padding is added after normalisation (the zeros are normalised-feature zeros, i.e. the training mean), and the model
/// sees every piece as a full 300-frame input (length 300: the padding is part of the input, as in a fixed-size
/// network). Each piece carries its utterance's label; an utterance's prediction averages its pieces' posteriors.
/// Legend: T frames, F bins, P = 300 piece frames, K classes.
/// </summary>
public static class FixedLengthPieces
{
    /// <summary>P: 3 s of 10 ms frames.</summary>
    public const int Frames = 300;

    /// <summary>
    /// The pieces of an utterance of <paramref name="frames"/> frames: ceil(T / P) of them (at least one), covering every
    /// frame once. <see cref="FixedSplit.Pieces"/>: P, P, ..., remainder. <see cref="FixedSplit.Equal"/>: lengths
    /// differing by at most one frame (the longer ones first).
    /// </summary>
    public static Piece[] Split(int item, int frames, int pieceFrames = Frames, FixedSplit split = FixedSplit.Pieces)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceFrames, 1);
        int count = (frames + pieceFrames - 1) / pieceFrames;
        var pieces = new Piece[count];
        for (int j = 0, start = 0; j < count; j++)
        {
            int length = split == FixedSplit.Equal
                ? frames / count + (j < frames % count ? 1 : 0)
                : Math.Min(pieceFrames, frames - start);
            pieces[j] = new Piece(item, start, length);
            start += length;
        }
        return pieces;
    }

    /// <summary>The checkpoint metadata key that records the split of a fixed-length model.</summary>
    public const string SplitKey = "fixed_split";

    /// <summary>
    /// Writes one piece as model input: dst [P, F] = normalised frames of the piece, then zeros up to P frames.
    /// <paramref name="utterance"/> is the whole utterance's raw dB [T, F].
    /// </summary>
    public static void Fill(ReadOnlySpan<float> utterance, int bins, Piece piece, FeatureStats? stats, Span<float> dst, int pieceFrames = Frames)
    {
        int valid = piece.Valid * bins;
        if (dst.Length < pieceFrames * bins) throw new ArgumentException($"a piece needs {pieceFrames * bins} values, got {dst.Length}");
        if (piece.Valid > pieceFrames || (piece.Start + piece.Valid) * bins > utterance.Length)
            throw new ArgumentException($"piece {piece} does not fit the utterance ({utterance.Length / bins} frames)");
        var head = dst[..valid];
        utterance.Slice(piece.Start * bins, valid).CopyTo(head);
        stats?.Normalize(head);
        dst[valid..(pieceFrames * bins)].Clear();
    }

    /// <summary>
    /// Averages piece posteriors into utterance posteriors: piecePosteriors [N_pieces, K] rows belong to
    /// owner[piece] in 0..utterances-1; returns [utterances, K]. Every utterance must own at least one piece.
    /// </summary>
    public static float[] AveragePosteriors(ReadOnlySpan<float> piecePosteriors, ReadOnlySpan<int> owner, int utterances, int classes)
    {
        if (piecePosteriors.Length != owner.Length * classes)
            throw new ArgumentException($"{piecePosteriors.Length} posteriors for {owner.Length} pieces of {classes} classes");
        var sum = new double[utterances * classes];
        var count = new int[utterances];
        for (int p = 0; p < owner.Length; p++)
        {
            int u = owner[p];
            count[u]++;
            for (int k = 0; k < classes; k++) sum[u * classes + k] += piecePosteriors[p * classes + k];
        }
        var mean = new float[utterances * classes];
        for (int u = 0; u < utterances; u++)
        {
            if (count[u] == 0) throw new ArgumentException($"utterance {u} has no pieces");
            for (int k = 0; k < classes; k++) mean[u * classes + k] = (float)(sum[u * classes + k] / count[u]);
        }
        return mean;
    }
}
