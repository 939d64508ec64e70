namespace Ser.Tool.Tests;

public class CliTests
{
    [Fact]
    public void Help_exits_zero_and_unknown_verb_exits_nonzero()
    {
        Assert.Equal(0, Program.Main(["--help"]));
        Assert.NotEqual(0, Program.Main(["no-such-verb"]));
    }
}
