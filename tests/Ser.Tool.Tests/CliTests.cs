namespace Ser.Tool.Tests;

/// <summary>
/// The exit-code contract (README, "Commands"): 0 success, 2 when the command line does not parse (unknown verb or
/// option, a value of the wrong type or none, a missing required option), 1 for bad input the command itself refuses (a
/// missing or corrupt file, an out-of-range value), each with a one-line message.
/// </summary>
[Collection(nameof(ConsoleCapture))]
public class CliTests
{
    [Fact]
    public void Help_and_version_exit_zero()
    {
        Assert.Equal(0, Cli.Run("--help").Code);
        Assert.Equal(0, Cli.Run("help", "predict").Code);
        Assert.Equal(0, Cli.Run("--version").Code);
    }

    [Theory]
    [InlineData("no-such-verb")]
    [InlineData("predict", "--no-such-option", "x.wav")]
    [InlineData("export", "--out", "x.onnx")]                      // --model is required
    [InlineData("train", "--epochs")]                              // a valued option given last, with no value
    [InlineData("predict", "--model", "m.ser", "x.wav", "--threads")]
    [InlineData("predict", "--model", "m.ser", "--threads", "many", "x.wav")] // not an integer
    [InlineData("train", "--epochs", "many")]                      // not an integer
    public void A_command_line_that_does_not_parse_exits_2(params string[] args)
    {
        var (code, output, err) = Cli.Run(args);
        Assert.Equal(2, code);
        Assert.Empty(output);
        Assert.NotEmpty(err); // the parser's usage text
    }

    [Fact]
    public void Bad_input_exits_1_with_one_error_line()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"ser-no-such-{Guid.NewGuid():N}.ser");
        foreach (var args in new[]
                 {
                     new[] { "predict", "--model", missing, "x.wav" },                  // missing model file
                     new[] { "predict", "--model", missing, "--threads", "-1", "x.wav" }, // parses, out of range
                 })
        {
            var (code, _, err) = Cli.Run(args);
            Assert.Equal(1, code);
            var line = Assert.Single(CliFixtures.Lines(err));
            Assert.StartsWith("sertool: error: ", line);
        }
    }
}
