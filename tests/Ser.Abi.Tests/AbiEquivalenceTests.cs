using Ser.Engine.Inference;

namespace Ser.Abi.Tests;

/// <summary>.NET through libser.so (the published library, not the managed assembly) against EmotionRecognizer.</summary>
public sealed unsafe class AbiEquivalenceTests(AbiFixture fixture) : IClassFixture<AbiFixture>
{
    [Fact]
    public void ser_classify_gives_EmotionRecognizers_probabilities_with_the_checkpoint_temperature()
    {
        var ser = NativeSer.Load();
        Assert.Equal(0, ser.Load(fixture.Model, out nint model));
        try
        {
            using var recognizer = EmotionRecognizer.Load(fixture.Model);
            Assert.Equal(AbiFixture.Temperature, recognizer.Temperature);
            foreach (var (pcm, rate) in fixture.Utterances)
            {
                var expected = recognizer.Predict(pcm, rate);
                var probs = new float[16];
                fixed (float* x = pcm)
                fixed (float* p = probs)
                    Assert.Equal(0, ser.Classify(model, x, (nuint)pcm.Length, rate, p, 16));
                for (int k = 0; k < recognizer.Labels.Count; k++)
                {
                    // libser is compiled ahead of time for x86-64-v3 (AVX2); this process's JIT may use AVX-512: the same
                    // sums in another order. The real error is a few ulps of the logits; 1e-5 is the bound.
                    Assert.True(Math.Abs(expected.Probabilities[recognizer.Labels[k]] - probs[k]) <= 1e-5,
                        $"{recognizer.Labels[k]} at {rate} Hz: {expected.Probabilities[recognizer.Labels[k]]:R} vs {probs[k]:R}");
                }
                Assert.All(probs[recognizer.Labels.Count..], v => Assert.Equal(0f, v));
            }
            // temperature is applied: at T = 1.7 the winner is less confident than softmax(logits)
            var plain = Path.Combine(fixture.Dir, "t1.ser");
            AbiFixture.WriteModel(plain, 4, 1f);
            using var sharp = EmotionRecognizer.Load(plain);
            var (u, r) = fixture.Utterances[0];
            Assert.True(recognizer.Predict(u, r).Confidence < sharp.Predict(u, r).Confidence);
        }
        finally
        {
            ser.ModelFree(model);
        }
    }

    [Fact]
    public void A_stream_through_libser_gives_the_managed_EmotionStreams_segments()
    {
        var ser = NativeSer.Load();
        Assert.Equal(0, ser.Load(fixture.Model, out nint model));
        nint stream;
        var prm = ser.StreamDefaultParams();
        Assert.Equal(0, ser.StreamCreate(model, &prm, &stream));
        var native = new EmotionSegment[64];
        nuint n;
        fixed (float* x = fixture.Speech)
            Assert.Equal(0, ser.StreamPush(stream, x, (nuint)fixture.Speech.Length));
        Assert.Equal(0, ser.StreamFlush(stream));
        fixed (EmotionSegment* s = native)
            Assert.Equal(0, ser.StreamPoll(stream, s, 64, &n));
        ser.StreamFree(stream);
        ser.ModelFree(model);

        using var recognizer = EmotionRecognizer.Load(fixture.Model);
        using var managed = new EmotionStream(recognizer);
        managed.Push(fixture.Speech);
        managed.Flush();
        var expected = new EmotionSegment[64];
        int m = managed.Poll(expected);
        Assert.Equal(m, (int)n);
        Assert.True(m >= 3, $"{m} segments");
        for (int i = 0; i < m; i++)
        {
            Assert.Equal(expected[i].StartSeconds, native[i].StartSeconds);
            Assert.Equal(expected[i].EndSeconds, native[i].EndSeconds);
            for (int k = 0; k < 4; k++) Assert.True(Math.Abs(expected[i].Probability(k) - native[i].Probability(k)) <= 1e-5);
        }
    }

    [Fact]
    public void A_model_with_more_than_16_classes_is_refused_at_load_as_a_format_error()
    {
        var ser = NativeSer.Load();
        string path = Path.Combine(fixture.Dir, "k17.ser");
        AbiFixture.WriteModel(path, 17, 1f);
        Assert.Equal(3, ser.Load(path, out nint model));
        Assert.Equal(0, model);
        Assert.Contains("17 classes", ser.Error);
        Assert.Equal(0, ser.Load(fixture.Model, out model));
        Assert.Equal("", ser.Error);   // a successful call clears this thread's error
        ser.ModelFree(model);
    }

    [Fact]
    public void The_managed_segment_has_ser_segments_layout()
    {
        Assert.Equal(88, sizeof(EmotionSegment));
        Assert.Equal(20, sizeof(SerStreamParamsNative));
    }
}
