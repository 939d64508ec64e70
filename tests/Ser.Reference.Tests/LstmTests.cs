using TorchSharp;
using static TorchSharp.torch;

namespace Ser.Reference.Tests;

/// <summary>The unrolled LSTM cell uses PyTorch's gate order and equations: it matches torch.nn.LSTM.</summary>
public class LstmTests
{
    [Fact]
    public void Unrolled_lstm_matches_torch_bidirectional_lstm_on_full_length_sequences()
    {
        using var scope = NewDisposeScope();
        const int batch = 3, steps = 5, input = 7, hidden = 4;
        torch.manual_seed(7);
        var sequence = torch.randn(batch, steps, input, dtype: ScalarType.Float64);
        using var lstm = nn.LSTM(input, hidden, bidirectional: true, batchFirst: true).to(ScalarType.Float64);
        var p = lstm.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using (no_grad())
        {
            p["bias_hh_l0"].zero_(); // the contract's single bias: b_ih = bias, b_hh = 0
            p["bias_hh_l0_reverse"].zero_();
        }
        var (output, _, _) = lstm.forward(sequence);                             // [B,T,2H]
        var allValid = torch.ones(batch, steps, dtype: ScalarType.Bool);

        var fw = ReferenceCrnn.UnrolledLstm(sequence, allValid, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], reverse: false);
        var bw = ReferenceCrnn.UnrolledLstm(sequence, allValid, p["weight_ih_l0_reverse"], p["weight_hh_l0_reverse"], p["bias_ih_l0_reverse"], reverse: true);

        var expectedFw = output.select(1, steps - 1).narrow(1, 0, hidden);     // forward h at the last step
        var expectedBw = output.select(1, 0).narrow(1, hidden, hidden);        // backward h after step 0
        Assert.True(fw.allclose(expectedFw, rtol: 1e-12, atol: 1e-12), "forward direction differs from torch.nn.LSTM");
        Assert.True(bw.allclose(expectedBw, rtol: 1e-12, atol: 1e-12), "backward direction differs from torch.nn.LSTM");
    }
}
