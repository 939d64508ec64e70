using System.Text.Json;
using Ser.Engine.Models;

namespace Ser.Engine.Tests.Checkpoints;

/// <summary>The source-generated checkpoint JSON (needed by NativeAOT) writes and reads what the reflection serializer did.</summary>
public sealed class CheckpointJsonTests
{
    [Fact]
    public void Config_json_is_byte_for_byte_the_reflection_serializers()
    {
        var odd = ModelConfig.Small with { Bins = 123, Dropout = 0.1 + 0.2, Classes = 7 };
        foreach (var config in new[] { ModelConfig.Paper, ModelConfig.Small, odd })
        {
            string reflection = JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = false, TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() });
            Assert.Equal(reflection, config.ToJson());
            Assert.Equal(config, ModelConfig.FromJson(config.ToJson(), "test"));
        }
    }

    [Fact]
    public void Fields_missing_from_the_json_keep_the_records_defaults()
    {
        var c = ModelConfig.FromJson("""{"channels":[2,2,2],"kernels":[[3,3],[3,3],[3,3]],"hidden":3,"dense":4}""", "test");
        Assert.Equal(new ModelConfig().Bins, c.Bins);
        Assert.Equal(new ModelConfig().Classes, c.Classes);
        Assert.Equal(0, c.Dropout);
    }
}
