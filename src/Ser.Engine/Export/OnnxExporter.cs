using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Onnx;
using Ser.Engine.Checkpoints;
using Ser.Engine.Experiments;
using Ser.Engine.Features;
using Ser.Engine.IO;

namespace Ser.Engine.Export;

/// <summary>What the exported model takes as input.</summary>
public enum OnnxInput
{
    /// <summary>`pcm` float32 [1, N]: mono 16 kHz samples; the front end runs inside the graph.</summary>
    Pcm,
    /// <summary>`features` float32 [1, 1, T, 400]: the normalised spectrogram (the engine's executor input).</summary>
    Features,
}

/// <summary>How <see cref="OnnxExporter"/> builds the model.</summary>
public sealed record OnnxExportOptions
{
    public OnnxInput Input { get; init; } = OnnxInput.Pcm;

    /// <summary>
    /// A ragged batch: inputs [B, N] (or [B, 1, T, 400]) plus `lengths` int64 [B] (valid samples, or valid frames, of
    /// each row; the rest of a row is ignored), outputs [B, K]. Masks before each convolution and pooling and the LSTM's
    /// sequence_lens keep the engine's padding invariance: each row's answer is the one it gets alone. Variable-length
    /// models only.
    /// </summary>
    public bool Batched { get; init; }
}

/// <summary>
/// Exports a checkpoint as a standard ONNX model (opset 17, IR version 8) of inference on one utterance of any length,
/// computing exactly what <see cref="Inference.EmotionRecognizer"/> computes. Legend: N samples, T frames, F = 400 bins,
/// C channels, H hidden, K classes, P pieces.
/// <code>
/// pcm [1, N]
///  -> Pad with zeros to at least 640 samples (the engine's "L &lt; 640 gives one zero-padded frame")
///  -> frames [1, T, 640] (four shifted slices of 160-sample blocks), T = 1 + floor((N'-640)/160)
///  -> MatMul [640, 2F]: columns w[n] cos(2πkn/1600) and -w[n] sin(2πkn/1600) (Hamming folded into the DFT basis;
///     zero-padding a 640-sample frame to 1600 points adds nothing to the sums) -> [1, T, 2F]
///  -> re² + im² -> 10 log10(max(p, 1e-10)) -> (x - mean) / max(std, 1e-3) -> features [1, 1, T, F]
///  -> per block: Conv (pads [pT, pF, KT-1-pT, KF-1-pF], PyTorch's asymmetric "same"), Relu, MaxPool 2x2 ceil_mode
///     (one unpadded utterance: every frame is valid, so the engine's mask is the identity and its ceil pooling over
///     valid frames is ONNX's ceil_mode)
///  -> [T3, 1, C*F3] -> LSTM bidirectional (gates reordered i,f,g,o -> i,o,f,c; recurrent bias 0) -> Y_h [2, 1, H]
///  -> [1, 2H] (forward h at the last step, backward h after step 0) -> Gemm, Relu, Gemm -> logits [1, K]
///  -> probs = softmax(logits / T_checkpoint)
/// </code>
/// With <see cref="OnnxExportOptions.Batched"/> the same graph runs B rows of different lengths: each row's padding is
/// zeroed (pcm by its sample count, every conv input and every ReLU output by the row's valid frames at that level,
/// V -> ceil(V/2) per pooling, as the engine's mask layers), and the LSTM reads `sequence_lens`, so its forward state is
/// taken at the row's last valid step and its backward pass starts there.
/// A fixed-length model (metadata length_mode = fixed) is exported with its pieces: the features are zero-padded to a
/// whole number of pieces (the engine pads normalised features with zeros), run as a batch of P pieces, each piece's
/// posterior softmax(logits / T), averaged: probs [1, K]; `logits` is then log(probs) (averaged posteriors have no
/// single logit vector) and `piece_logits` [P, K] holds the pieces' own logits.
/// </summary>
public static class OnnxExporter
{
    public const int Opset = 17;
    public const long IrVersion = 8;   // the IR version of ONNX 1.12, which introduced opset 17

    /// <summary>The ONNX model as bytes.</summary>
    public static byte[] Export(Checkpoint checkpoint, OnnxExportOptions? options = null) => Build(checkpoint, options).ToByteArray();

    /// <summary>Writes the model atomically (temp file + rename).</summary>
    public static void Save(Checkpoint checkpoint, string path, OnnxExportOptions? options = null)
    {
        var model = Build(checkpoint, options);
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    internal static ModelProto Build(Checkpoint checkpoint, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        var config = checkpoint.Config;
        if (config.Bins != FrontEnd.Bins)
            throw new SerException($"{checkpoint.Path}: the model reads {config.Bins} bins; the front end makes {FrontEnd.Bins}, so it cannot be exported with the front end inside");
        var (fixedLength, pieceFrames) = LengthModeOf(checkpoint);
        bool batched = options.Batched;
        if (batched && fixedLength)
            throw new SerException($"{checkpoint.Path}: a fixed-length model cannot be exported batched (its pieces already make the batch); export it without --batched");
        var p = checkpoint.Parameters;
        var g = new OnnxGraph();
        int k = config.Classes;
        object batch = batched ? "batch" : 1L;

        // x [B, 1, T, F] normalised features; frames [B] valid frames of each row (batched only)
        string x, frames = "";
        if (options.Input == OnnxInput.Pcm)
        {
            string pcm = g.Input("pcm", batch, "samples");
            if (batched)
            {
                string samples = g.TypedInput("lengths", OnnxGraph.Int64, batch);
                pcm = g.Node("Mul", [pcm, Mask(g, pcm, 1, samples, [])], name: "pcm_masked");   // samples past a row's length -> 0
                // V = 1 + floor((max(L, 640) - 640) / 160): the engine's FrameCount (non-negative, so Div's truncation is floor)
                string atLeast = g.Node("Max", [samples, g.ConstInt64("window_length_rows", [FrontEnd.WindowLength])], name: "samples_at_least_window");
                string over = g.Node("Sub", [atLeast, g.ConstInt64("window_length_over", [FrontEnd.WindowLength])], name: "samples_past_window");
                string hops = g.Node("Div", [over, g.ConstInt64("hop", [FrontEnd.Hop])], name: "whole_hops");
                frames = g.Node("Add", [hops, g.ConstInt64("one_frame", [1])], name: "frames_valid");
            }
            x = FrontEndNodes(g, pcm, checkpoint.Stats);
        }
        else
        {
            x = g.Input("features", batch, 1L, "frames", (long)FrontEnd.Bins);
            if (batched) frames = g.TypedInput("lengths", OnnxGraph.Int64, batch);
        }

        if (fixedLength) x = Pieces(g, x, pieceFrames);   // [P, 1, pieceFrames, F]
        if (batched) x = g.Node("Mul", [x, Mask(g, x, 2, frames, [1, 3])], name: "features_masked");   // conv1 reads zeros past V

        // Conv blocks: [B, C, T, F] -> [B, C', ceil(T/2), ceil(F/2)]
        for (int i = 0; i < config.Blocks; i++)
        {
            string n = (i + 1).ToString(CultureInfo.InvariantCulture);
            int kt = config.Kernels[i][0], kf = config.Kernels[i][1], cin = i == 0 ? 1 : config.Channels[i - 1], cout = config.Channels[i];
            int pt = (kt - 1) / 2, pf = (kf - 1) / 2;   // the engine's ConvDesc.PadT/PadF; the rest goes after
            string w = g.Const($"conv{n}.weight", p[$"conv{n}.weight"], cout, cin, kt, kf);
            string b = g.Const($"conv{n}.bias", p[$"conv{n}.bias"], cout);
            x = g.Node("Conv", [x, w, b],
                [OnnxGraph.Ints("kernel_shape", kt, kf), OnnxGraph.Ints("pads", pt, pf, kt - 1 - pt, kf - 1 - pf), OnnxGraph.Ints("strides", 1, 1)],
                name: "conv" + n);
            x = g.Node("Relu", [x], name: "relu" + n);
            if (batched)
            {
                // the engine's mask layer: frames >= V are 0, so the (ceil) pooling never picks padding (ReLU >= 0, so
                // a window's masked zero never beats a valid value) and the next conv reads zeros past ceil(V/2)
                x = g.Node("Mul", [x, Mask(g, x, 2, frames, [1, 3])], name: "mask" + n);
                frames = g.Node("Div", [g.Node("Add", [frames, g.ConstInt64("one", [1])], name: $"frames{n}_plus_one"), g.ConstInt64("two", [2])],
                    name: $"frames_pool{n}");   // ceil(V / 2)
            }
            x = g.Node("MaxPool", [x],
                [OnnxGraph.Ints("kernel_shape", 2, 2), OnnxGraph.Ints("strides", 2, 2), OnnxGraph.Int("ceil_mode", 1)],
                name: "pool" + n);
        }

        // [B, C, T3, F3] -> [T3, B, C*F3], feature index c*F3 + f as the engine's SequenceLayer
        int hidden = config.Hidden, input = config.LstmInput;
        x = g.Node("Transpose", [x], [OnnxGraph.Ints("perm", 2, 0, 1, 3)], name: "to_sequence");
        x = g.Node("Reshape", [x, g.ConstInt64("sequence_shape", [0, 0, input])], name: "sequence");

        var (wOnnx, rOnnx, bOnnx) = LstmWeights(p, hidden, input);
        string lw = g.Const("lstm.W", wOnnx, 2, 4 * hidden, input);
        string lr = g.Const("lstm.R", rOnnx, 2, 4 * hidden, hidden);
        string lb = g.Const("lstm.B", bOnnx, 2, 8 * hidden);
        string yh = g.Name("lstm_Y_h");
        string[] lstmInputs = batched
            ? [x, lw, lr, lb, g.Node("Cast", [frames], [OnnxGraph.Int("to", OnnxGraph.Int32)], name: "sequence_lens")]
            : [x, lw, lr, lb];
        g.Nodes("LSTM", lstmInputs, ["", yh],
            [OnnxGraph.Int("hidden_size", hidden), OnnxGraph.String("direction", "bidirectional")], "lstm");
        // Y_h [2, B, H] -> [B, 2, H] -> [B, 2H] = concat(forward, backward)
        x = g.Node("Transpose", [yh], [OnnxGraph.Ints("perm", 1, 0, 2)], name: "lstm_ends");
        x = g.Node("Reshape", [x, g.ConstInt64("utterance_shape", [0, 2L * hidden])], name: "utterance_vector");

        string w1 = g.Const("fc1.weight", p["fc1.weight"], config.Dense, 2 * hidden);
        string b1 = g.Const("fc1.bias", p["fc1.bias"], config.Dense);
        x = g.Node("Gemm", [x, w1, b1], [OnnxGraph.Int("transB", 1)], name: "fc1");
        x = g.Node("Relu", [x], name: "relu_fc1");   // dropout is the identity at inference
        string w2 = g.Const("fc2.weight", p["fc2.weight"], k, config.Dense);
        string b2 = g.Const("fc2.bias", p["fc2.bias"], k);
        string logits = g.Node("Gemm", [x, w2, b2], [OnnxGraph.Int("transB", 1)], name: "fc2");

        string temperature = g.Scalar("temperature", checkpoint.Temperature);
        string scaled = g.Node("Div", [logits, temperature], name: "logits_over_temperature");
        string probs = g.Node("Softmax", [scaled], [OnnxGraph.Int("axis", -1)], name: "softmax");
        if (fixedLength)
        {
            probs = g.Node("ReduceMean", [probs], [OnnxGraph.Ints("axes", 0), OnnxGraph.Int("keepdims", 1)], name: "average_pieces");
            g.Output(logits, "piece_logits", OnnxGraph.Float, "pieces", (long)k);
            logits = g.Node("Log", [probs], name: "log_probs");
        }
        g.Output(probs, "probs", OnnxGraph.Float, batch, (long)k);
        g.Output(logits, "logits", OnnxGraph.Float, batch, (long)k);

        g.Proto.Name = "ser_crnn";
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "sertool",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
            Domain = "ser",
            ModelVersion = 1,
            DocString = $"Ser speech emotion recognition, {config}; input {(options.Input == OnnxInput.Pcm ? $"pcm [{batch}, N] mono 16 kHz" : $"features [{batch}, 1, T, 400] normalised spectrogram")}" +
                        $"{(batched ? " + lengths int64 [batch] (valid samples or frames per row, at most the row's width)" : "")}; " +
                        $"outputs probs [{batch}, K] = softmax(logits / temperature), logits [{batch}, K].",
            Graph = g.Proto,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in Metadata(checkpoint, options, fixedLength, pieceFrames))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>
    /// A float mask [B, T] (1 where t &lt; lengths[b]) of x's time axis <paramref name="timeAxis"/>, unsqueezed at
    /// <paramref name="unsqueeze"/> to broadcast against x.
    /// </summary>
    static string Mask(OnnxGraph g, string x, int timeAxis, string lengths, long[] unsqueeze)
    {
        string t = g.Node("Shape", [x], [OnnxGraph.Int("start", timeAxis), OnnxGraph.Int("end", timeAxis + 1)], name: "time_size");
        t = g.Node("Squeeze", [t, g.ConstInt64("first_axis", [0])], name: "time_scalar");
        string steps = g.Node("Range", [g.ConstInt64("range_start", [0], scalar: true), t, g.ConstInt64("range_step", [1], scalar: true)], name: "time_steps");   // [T]
        string rows = g.Node("Unsqueeze", [lengths, g.ConstInt64("row_axis", [1])], name: "lengths_column");   // [B, 1]
        string valid = g.Node("Less", [steps, rows], name: "valid_steps");                                       // [B, T]
        string mask = g.Node("Cast", [valid], [OnnxGraph.Int("to", OnnxGraph.Float)], name: "valid_mask");
        return unsqueeze.Length == 0 ? mask : g.Node("Unsqueeze", [mask, g.ConstInt64("mask_axes", unsqueeze)], name: "mask_maps");
    }

    /// <summary>The front end inside the graph: pcm [B, N] -> normalised features [B, 1, T, F].</summary>
    static string FrontEndNodes(OnnxGraph g, string pcm, FeatureStats stats)
    {
        const int f = FrontEnd.Bins, n = FrontEnd.WindowLength;

        const int hop = FrontEnd.Hop, hopsPerWindow = n / hop;   // 640 = 4 x 160: a frame is 4 consecutive hop blocks

        // Pad the end with max(0, 640 - N) zeros: T = 1 + floor((max(N, 640) - 640) / 160) = the engine's FrameCount.
        string length = g.Node("Shape", [pcm], [OnnxGraph.Int("start", 1), OnnxGraph.Int("end", 2)], name: "samples");
        string missing = g.Node("Sub", [g.ConstInt64("window_length", [n]), length], name: "samples_missing");
        missing = g.Node("Max", [missing, g.ConstInt64("zero", [0])], name: "samples_to_pad");
        string pads = g.Node("Concat", [g.ConstInt64("no_pad", [0, 0, 0]), missing], [OnnxGraph.Int("axis", 0)], name: "pcm_pads");
        string padded = g.Node("Pad", [pcm, pads], [OnnxGraph.String("mode", "constant")], name: "pcm_padded");   // [B, N'], N' >= 640

        // Frames without a gather: the first 160 * floor(N'/160) samples as hop blocks [B, NB, 160]; frame t is blocks
        // t..t+3, so the frames are the concatenation of four shifted slices (ends -3, -2, -1, all): [B, T, 640] with
        // T = NB - 3 = 1 + floor((N' - 640) / 160). Samples past the last whole block belong to no frame.
        string blocks = g.Node("Div", [g.Node("Shape", [padded], [OnnxGraph.Int("start", 1), OnnxGraph.Int("end", 2)], name: "padded_samples"),
            g.ConstInt64("hop_samples", [hop])], name: "hop_blocks");
        string used = g.Node("Mul", [blocks, g.ConstInt64("hop_size", [hop])], name: "framed_samples");
        string whole = g.Node("Slice", [padded, g.ConstInt64("slice_from_0", [0]), used, g.ConstInt64("samples_axis", [1])], name: "whole_blocks");
        string hopBlocks = g.Node("Reshape", [whole, g.ConstInt64("blocks_shape", [0, -1, hop])], name: "blocks");   // [B, NB, 160]
        var shifted = new string[hopsPerWindow];
        for (int j = 0; j < hopsPerWindow; j++)
        {
            long endBlock = j == hopsPerWindow - 1 ? long.MaxValue : j - (hopsPerWindow - 1);
            shifted[j] = g.Node("Slice", [hopBlocks, g.ConstInt64("block_start", [j]), g.ConstInt64("block_end", [endBlock]), g.ConstInt64("blocks_axis", [1])],
                name: $"frame_part{j}");   // [B, T, 160]: samples [160 j, 160 j + 160) of each frame
        }
        string framed = g.Node("Concat", shifted, [OnnxGraph.Int("axis", 2)], name: "frames_pcm");   // [B, T, 640]

        // DFT basis with the window folded in, [640, 2F]: columns 0..F-1 real parts, F..2F-1 imaginary parts of
        // X[k] = Σ_n w[n] x[n] exp(-2πi k n / 1600). Computed in double, rounded once to float. One MatMul (a GEMM of
        // 640 x 800 per frame) rather than an FFT: ONNX's DFT op has no cheaper path for 1600 points in ONNX Runtime.
        var basis = new float[n * 2 * f];
        var window = FrontEnd.Window;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < f; k++)
            {
                // (k * i) mod 1600 keeps the angle small, so cos/sin are exact to double rounding
                double angle = 2 * Math.PI * ((long)k * i % FrontEnd.DftSize) / FrontEnd.DftSize;
                basis[i * 2 * f + k] = (float)(window[i] * Math.Cos(angle));
                basis[i * 2 * f + f + k] = (float)(-window[i] * Math.Sin(angle));
            }
        string spectrum = g.Node("MatMul", [framed, g.Const("dft_basis", basis, n, 2 * f)], name: "dft");      // [B, T, 2F]
        string squares = g.Node("Mul", [spectrum, spectrum], name: "dft_squares");
        squares = g.Node("Reshape", [squares, g.ConstInt64("re_im_shape", [0, 0, 2, f])], name: "re_im");    // [B, T, 2, F]
        string power = g.Node("ReduceSum", [squares, g.ConstInt64("re_im_axis", [2])], [OnnxGraph.Int("keepdims", 0)], name: "power");   // [B, T, F]
        power = g.Node("Max", [power, g.Scalar("power_floor", FrontEnd.FloorPower)], name: "power_floored");
        string db = g.Node("Log", [power], name: "log_power");
        db = g.Node("Mul", [db, g.Scalar("db_per_neper", (float)(10 / Math.Log(10)))], name: "db");   // 10 log10 p

        // (x - mean) * (1 / max(std, 1e-3)), with the engine's float reciprocal
        var invStd = stats.Std.Select(s => 1f / Math.Max(s, FeatureStats.StdFloor)).ToArray();
        string centred = g.Node("Sub", [db, g.Const("feature_mean", stats.Mean, f)], name: "centred");
        string frames = g.Node("Mul", [centred, g.Const("feature_inv_std", invStd, f)], name: "normalised");       // [B, T, F]
        return g.Node("Unsqueeze", [frames, g.ConstInt64("map_axis", [1])], name: "features");                      // [B, 1, T, F]
    }

    /// <summary>features [1, 1, T, F] -> [P, 1, pieceFrames, F], the last piece zero-padded (normalised zeros).</summary>
    static string Pieces(OnnxGraph g, string features, int pieceFrames)
    {
        string frames = g.Node("Shape", [features], [OnnxGraph.Int("start", 2), OnnxGraph.Int("end", 3)], name: "frame_count");
        string piece = g.ConstInt64("piece_frames", [pieceFrames]);
        string rest = g.Node("Mod", [frames, piece], name: "frames_past_last_piece");
        string missing = g.Node("Mod", [g.Node("Sub", [piece, rest], name: "piece_gap"), piece], name: "frames_to_pad");
        string pads = g.Node("Concat", [g.ConstInt64("piece_pads_head", [0, 0, 0, 0, 0, 0]), missing, g.ConstInt64("piece_pads_tail", [0])],
            [OnnxGraph.Int("axis", 0)], name: "piece_pads");
        string padded = g.Node("Pad", [features, pads], [OnnxGraph.String("mode", "constant")], name: "features_padded");
        return g.Node("Reshape", [padded, g.ConstInt64("pieces_shape", [-1, 1, pieceFrames, FrontEnd.Bins])], name: "pieces");
    }

    /// <summary>
    /// The engine's per-direction lstm.{fw,bw}.{w_ih [4H, I], w_hh [4H, H], bias [4H]} in gate order (i, f, g, o) as
    /// ONNX's W [2, 4H, I], R [2, 4H, H], B [2, 8H] in gate order (i, o, f, c); the engine has one bias per direction,
    /// so it becomes Wb and Rb is zero.
    /// </summary>
    internal static (float[] W, float[] R, float[] B) LstmWeights(IReadOnlyDictionary<string, float[]> p, int hidden, int input)
    {
        int[] engineGateOf = [0, 3, 1, 2];   // ONNX gate j (i, o, f, c) is engine gate engineGateOf[j] (i, f, g, o)
        var w = new float[2 * 4 * hidden * input];
        var r = new float[2 * 4 * hidden * hidden];
        var b = new float[2 * 8 * hidden];
        string[] dirs = ["fw", "bw"];   // ONNX bidirectional: direction 0 forward, 1 reverse
        for (int d = 0; d < 2; d++)
        {
            var wih = p[$"lstm.{dirs[d]}.w_ih"];
            var whh = p[$"lstm.{dirs[d]}.w_hh"];
            var bias = p[$"lstm.{dirs[d]}.bias"];
            for (int j = 0; j < 4; j++)
            {
                int e = engineGateOf[j];
                wih.AsSpan(e * hidden * input, hidden * input).CopyTo(w.AsSpan((d * 4 + j) * hidden * input));
                whh.AsSpan(e * hidden * hidden, hidden * hidden).CopyTo(r.AsSpan((d * 4 + j) * hidden * hidden));
                bias.AsSpan(e * hidden, hidden).CopyTo(b.AsSpan(d * 8 * hidden + j * hidden));
            }
        }
        return (w, r, b);
    }

    static (bool Fixed, int PieceFrames) LengthModeOf(Checkpoint checkpoint)
    {
        string mode = checkpoint.Metadata.GetValueOrDefault("length_mode") ?? "variable";
        var parsed = TrainingSettings.ParseModeOrNull(mode)
                     ?? throw new SerException($"{checkpoint.Path}: unknown length_mode '{mode}' (expected variable or fixed)");
        int pieceFrames = FixedLengthPieces.Frames;
        if (checkpoint.Metadata.TryGetValue("piece_frames", out var pf) && !(int.TryParse(pf, out pieceFrames) && pieceFrames > 0))
            throw new SerException($"{checkpoint.Path}: piece_frames '{pf}' is not a positive frame count");
        return (parsed == LengthMode.Fixed, pieceFrames);
    }

    /// <summary>metadata_props: the model's contract (ser.*) and the checkpoint's training metadata under its own keys.</summary>
    static IEnumerable<(string Key, string Value)> Metadata(Checkpoint checkpoint, OnnxExportOptions options, bool fixedLength, int pieceFrames)
    {
        string temperature = checkpoint.Metadata.GetValueOrDefault(Checkpoint.TemperatureKey) ?? "1";
        yield return ("ser.labels", string.Join(",", checkpoint.Labels));
        yield return ("ser.sample_rate", FrontEnd.SampleRate.ToString(CultureInfo.InvariantCulture));
        yield return ("ser.temperature", temperature);
        yield return ("ser.front_end", FrontEndJson());
        yield return ("ser.input", options.Input == OnnxInput.Pcm ? "pcm" : "features");
        yield return ("ser.length_mode", fixedLength ? "fixed" : "variable");
        yield return ("ser.batched", options.Batched ? "true" : "false");
        if (fixedLength) yield return ("ser.piece_frames", pieceFrames.ToString(CultureInfo.InvariantCulture));
        yield return ("ser.config", checkpoint.Config.ToJson());
        foreach (var (key, value) in checkpoint.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
            if (!key.StartsWith("ser.", StringComparison.Ordinal)) yield return (key, value);
    }

    /// <summary>The front end's constants as JSON (written with Utf8JsonWriter: no reflection, so trimming-safe).</summary>
    static string FrontEndJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("sample_rate", FrontEnd.SampleRate);
            json.WriteString("window", "hamming w[n] = 0.54 - 0.46 cos(2 pi n / 639)");
            json.WriteNumber("window_length", FrontEnd.WindowLength);
            json.WriteNumber("hop", FrontEnd.Hop);
            json.WriteNumber("dft_size", FrontEnd.DftSize);
            json.WriteNumber("bins", FrontEnd.Bins);
            json.WriteString("frames", "1 + floor((N - 640) / 160), at least 1 (short input zero-padded to 640 samples)");
            json.WriteNumber("power_floor", FrontEnd.FloorPower);
            json.WriteString("db", "10 * log10(max(power, power_floor))");
            json.WriteString("normalisation", "(db - mean[bin]) / max(std[bin], std_floor), training-split statistics");
            json.WriteNumber("std_floor", FeatureStats.StdFloor);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
