using Ser.Engine.Models;

namespace Ser.Engine.Tests.Models;

public class ModelConfigTests
{
    [Fact]
    public void Presets_round_trip_through_json_with_contract_field_names()
    {
        foreach (var name in ModelConfig.PresetNames)
        {
            var config = ModelConfig.Preset(name);
            string json = config.ToJson();
            foreach (var field in new[] { "\"channels\"", "\"kernels\"", "\"hidden\"", "\"dense\"", "\"classes\"", "\"dropout\"", "\"bins\"" })
                Assert.Contains(field, json);
            Assert.Equal(config, ModelConfig.FromJson(json, "test"));
        }
        Assert.Equal(1600, ModelConfig.Paper.LstmInput); // 32 channels * 50 bins
        Assert.Equal([16, 24, 32], ModelConfig.Paper.Channels);
    }

    [Fact]
    public void Bad_configs_are_one_line_errors_naming_the_field()
    {
        var e = Assert.Throws<SerException>(() => ModelConfig.Preset("huge"));
        Assert.Contains("huge", e.Message);
        e = Assert.Throws<SerException>(() => ModelConfig.FromJson("{\"channels\":[4],\"kernels\":[[3]],\"hidden\":2,\"dense\":2}", "cfg.json"));
        Assert.Contains("cfg.json", e.Message);
        Assert.Contains("kernels[0]", e.Message);
        e = Assert.Throws<SerException>(() => ModelConfig.FromJson("{nope", "cfg.json"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<SerException>(() => (ModelConfig.Small with { Dropout = 1 }).Validate());
    }

    [Fact]
    public void Parameter_names_and_shapes_follow_the_contract()
    {
        var p = CrnnParameters.Of(ModelConfig.Paper).ToDictionary(x => x.Name, x => x.Shape);
        Assert.Equal([16, 1, 12, 16], p["conv1.weight"]);
        Assert.Equal([24, 16, 8, 12], p["conv2.weight"]);
        Assert.Equal([32, 24, 5, 7], p["conv3.weight"]);
        Assert.Equal([512, 1600], p["lstm.fw.w_ih"]);
        Assert.Equal([512, 128], p["lstm.bw.w_hh"]);
        Assert.Equal([512], p["lstm.bw.bias"]);
        Assert.Equal([64, 256], p["fc1.weight"]);
        Assert.Equal([4, 64], p["fc2.weight"]);
        Assert.Equal(16, p.Count); // 3 conv x (weight, bias) + 2 directions x 3 + 2 dense x 2
    }
}
