using Ser.Engine.Data;
using Ser.Engine.Experiments;
using Ser.Engine.Features;

namespace Ser.Engine.Tests.Experiments;

public class FixedLengthPiecesTests
{
    const int Bins = 3;

    [Theory]
    [InlineData(1, 1, 1)]        // very short: one piece, padded
    [InlineData(299, 1, 299)]
    [InlineData(300, 1, 300)]    // exactly 3 s: one full piece
    [InlineData(301, 2, 1)]      // just over: a second piece of one frame
    [InlineData(600, 2, 300)]
    [InlineData(1000, 4, 100)]
    public void Split_cuts_consecutive_3s_pieces(int frames, int count, int lastValid)
    {
        var pieces = FixedLengthPieces.Split(7, frames);
        Assert.Equal(count, pieces.Length);
        for (int j = 0; j < count; j++)
        {
            Assert.Equal(7, pieces[j].Item);
            Assert.Equal(300 * j, pieces[j].Start);
            Assert.Equal(j < count - 1 ? 300 : lastValid, pieces[j].Valid);
        }
        Assert.Equal(frames, pieces.Sum(p => p.Valid));
    }

    [Fact]
    public void Fill_normalises_the_piece_then_pads_with_zeros()
    {
        // utterance [T = 5, F = 3] with value 10 t + f; piece of 2 frames starting at frame 3, padded to P = 4
        var utterance = Enumerable.Range(0, 5 * Bins).Select(i => (float)(10 * (i / Bins) + i % Bins)).ToArray();
        var stats = new FeatureStats([1f, 2f, 3f], [2f, 2f, 2f]);
        var dst = Enumerable.Repeat(99f, 4 * Bins).ToArray();
        FixedLengthPieces.Fill(utterance, Bins, new Piece(0, 3, 2), stats, dst, pieceFrames: 4);
        for (int t = 0; t < 2; t++)
            for (int f = 0; f < Bins; f++)
                Assert.Equal((10f * (3 + t) + f - (1 + f)) / 2f, dst[t * Bins + f]);
        Assert.All(dst[(2 * Bins)..], v => Assert.Equal(0f, v));   // padding is normalised-feature zero
    }

    [Fact]
    public void Averages_piece_posteriors_per_utterance()
    {
        float[] pieces =
        [
            0.8f, 0.2f,   // utterance 0
            0.2f, 0.8f,   // utterance 1
            0.4f, 0.6f,   // utterance 0
            0.3f, 0.7f,   // utterance 0
        ];
        var mean = FixedLengthPieces.AveragePosteriors(pieces, [0, 1, 0, 0], 2, 2);
        Assert.Equal(0.5f, mean[0], 6);
        Assert.Equal(0.5f, mean[1], 6);
        Assert.Equal(0.2f, mean[2], 6);
        Assert.Equal(0.8f, mean[3], 6);
        Assert.Throws<ArgumentException>(() => FixedLengthPieces.AveragePosteriors(pieces, [0, 0, 0, 0], 2, 2)); // utterance 1 has none
    }

    [Fact]
    public void Fixed_feeder_presents_full_length_pieces_that_inherit_their_label()
    {
        // three utterances of 250, 650 and 300 frames with labels 2, 1, 3
        int[] frames = [250, 650, 300];
        int[] labels = [2, 1, 3];
        var features = frames.Select((t, i) => Enumerable.Range(0, t * Bins).Select(v => (float)(i + 1)).ToArray()).ToArray();
        var cache = FeatureCache.FromArrays(features, labels, Bins);
        var stats = new FeatureStats(new float[Bins], [1f, 1f, 1f]);
        var feeder = (FixedFeeder)SplitFeeder.Create(LengthMode.Fixed, cache, [0, 1, 2], stats, batchSize: 8);

        Assert.Equal(1 + 3 + 1, feeder.SampleCount);
        Assert.Equal([0f, 3f, 1f, 1f], feeder.ClassCounts(4));           // loss weights count pieces: 3 of class 1
        var batch = feeder.CreateBatch();
        var epoch = feeder.Epoch(null);
        Assert.Single(epoch);
        feeder.Fill(batch, epoch[0]);
        Assert.Equal(5, batch.Count);
        Assert.Equal(300, batch.Frames);
        for (int b = 0; b < batch.Count; b++)
        {
            Assert.Equal(300, batch.Lengths[b]);                           // the padding is part of the input
            int u = feeder.Owner(batch.Indices[b]);
            Assert.Equal(labels[u], batch.Labels[b]);                      // label inherited
            var piece = feeder.Pieces[batch.Indices[b]];
            var sample = batch.Sample(b);
            Assert.All(sample[..(piece.Valid * Bins)].ToArray(), v => Assert.Equal(u + 1f, v));
            Assert.All(sample[(piece.Valid * Bins)..].ToArray(), v => Assert.Equal(0f, v));
        }
        Assert.Equal([0, 1, 1, 1, 2], Enumerable.Range(0, 5).Select(b => feeder.Owner(batch.Indices[b])).Order());

        // training order: every piece once, shuffled by the seed, the same for the same seed
        var a = feeder.Epoch(3).SelectMany(x => x).ToArray();
        Assert.Equal(Enumerable.Range(0, 5), a.Order());
        Assert.Equal(a, feeder.Epoch(3).SelectMany(x => x).ToArray());
    }

    [Fact]
    public void Variable_feeder_presents_whole_utterances()
    {
        int[] frames = [250, 650, 300];
        var cache = FeatureCache.FromArrays(frames.Select(t => new float[t * Bins]).ToArray(), [0, 1, 2], Bins);
        var feeder = SplitFeeder.Create(LengthMode.Variable, cache, [2, 0], new FeatureStats(new float[Bins], [1f, 1f, 1f]), 8);
        var batch = feeder.CreateBatch();
        feeder.Fill(batch, feeder.Epoch(null)[0]);
        Assert.Equal(2, batch.Count);
        Assert.Equal([300, 250], batch.Lengths[..2]);
        Assert.Equal([0, 1], new[] { feeder.Owner(batch.Indices[0]), feeder.Owner(batch.Indices[1]) });
        Assert.Equal([1f, 0f, 1f, 0f], feeder.ClassCounts(4));
    }

    [Theory]
    [InlineData(1000, new[] { 250, 250, 250, 250 })]
    [InlineData(901, new[] { 226, 225, 225, 225 })]       // the longer parts first
    [InlineData(903, new[] { 226, 226, 226, 225 })]
    [InlineData(301, new[] { 151, 150 })]
    [InlineData(300, new[] { 300 })]
    [InlineData(5, new[] { 5 })]
    public void Equal_split_cuts_ceil_t_over_3s_parts_differing_by_at_most_a_frame(int frames, int[] lengths)
    {
        var pieces = FixedLengthPieces.Split(4, frames, split: FixedSplit.Equal);
        Assert.Equal(lengths, pieces.Select(p => p.Valid));
        Assert.Equal(lengths.Select((_, j) => lengths[..j].Sum()), pieces.Select(p => p.Start));   // consecutive
        Assert.All(pieces, p => Assert.Equal(4, p.Item));
    }

    [Fact]
    public void Split_and_fill_refuse_what_does_not_fit()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FixedLengthPieces.Split(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => FixedLengthPieces.Split(0, 10, pieceFrames: 0));
        Assert.Single(FixedLengthPieces.Split(0, 1, pieceFrames: 1));

        var utterance = Enumerable.Range(0, 5 * Bins).Select(i => (float)i).ToArray();   // T = 5
        var dst = new float[4 * Bins];
        Assert.Throws<ArgumentException>(() => FixedLengthPieces.Fill(utterance, Bins, new Piece(0, 0, 2), null, new float[4 * Bins - 1], pieceFrames: 4));
        Assert.Throws<ArgumentException>(() => FixedLengthPieces.Fill(utterance, Bins, new Piece(0, 0, 5), null, new float[5 * Bins], pieceFrames: 4));
        Assert.Throws<ArgumentException>(() => FixedLengthPieces.Fill(utterance, Bins, new Piece(0, 2, 4), null, dst, pieceFrames: 4));
        FixedLengthPieces.Fill(utterance, Bins, new Piece(0, 1, 4), null, dst, pieceFrames: 4);   // up to the last frame: fits
        Assert.Equal(utterance[Bins..], dst);                                                     // no stats: raw values

        Assert.Throws<ArgumentException>(() => FixedLengthPieces.AveragePosteriors(new float[5], [0, 0], 1, 2));
    }

    [Fact]
    public void Fixed_feeder_cuts_epochs_into_batches_of_its_size_and_refuses_batches_that_do_not_fit()
    {
        int[] frames = [250, 650, 300];
        var cache = FeatureCache.FromArrays(frames.Select(t => new float[t * Bins]).ToArray(), [2, 1, 3], Bins);
        var stats = new FeatureStats(new float[Bins], [1f, 1f, 1f]);
        var feeder = SplitFeeder.Create(LengthMode.Fixed, cache, [0, 1, 2], stats, batchSize: 2);
        Assert.Equal([2, 2, 1], feeder.Epoch(null).Select(b => b.Length));
        Assert.Equal([0, 1, 2, 3, 4], feeder.Epoch(null).SelectMany(b => b));
        Assert.Equal([2, 2, 1], feeder.Epoch(5).Select(b => b.Length));
        Assert.NotEqual(feeder.Epoch(5).SelectMany(b => b), feeder.Epoch(6).SelectMany(b => b));   // seeds shuffle differently
        Assert.Equal(2, feeder.BatchSize);
        Assert.Equal(300, feeder.MaxFrames);
        var batch = feeder.CreateBatch();
        Assert.Equal(2, batch.Capacity);
        Assert.Throws<ArgumentException>(() => feeder.Fill(batch, []));
        Assert.Throws<ArgumentException>(() => feeder.Fill(batch, [0, 1, 2]));
        // the loss sees every piece as 300 frames with its utterance's label
        Assert.Equal([(300, 2), (300, 1), (300, 1), (300, 1), (300, 3)], feeder.Samples());

        var one = SplitFeeder.Create(LengthMode.Fixed, cache, [2], stats, batchSize: 0);          // at least one per batch
        Assert.Equal(1, one.BatchSize);
        Assert.Equal(1, one.CreateBatch().Capacity);                                               // no more than the pieces
        var big = SplitFeeder.Create(LengthMode.Fixed, cache, [0, 2], stats, batchSize: 16);
        Assert.Equal(2, big.CreateBatch().Capacity);

        var equal = (FixedFeeder)SplitFeeder.Create(LengthMode.Fixed, cache, [1], stats, 8, FixedSplit.Equal);
        Assert.Equal([217, 217, 216], equal.Pieces.Select(p => p.Valid));
    }

    [Fact]
    public void Variable_feeder_reports_each_utterance_with_its_own_length()
    {
        int[] frames = [250, 650, 300];
        var cache = FeatureCache.FromArrays(frames.Select(t => new float[t * Bins]).ToArray(), [0, 1, 2], Bins);
        var feeder = SplitFeeder.Create(LengthMode.Variable, cache, [2, 0, 1], new FeatureStats(new float[Bins], [1f, 1f, 1f]), 8);
        Assert.Equal(3, feeder.SampleCount);
        Assert.Equal(650, feeder.MaxFrames);
        Assert.Equal(8, feeder.BatchSize);
        Assert.Equal([(300, 2), (250, 0), (650, 1)], feeder.Samples());
        Assert.Equal([2, 0, 1], feeder.Labels());
    }
}
