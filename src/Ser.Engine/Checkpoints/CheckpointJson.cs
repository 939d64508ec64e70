using System.Text.Json.Serialization;
using Ser.Engine.Models;

namespace Ser.Engine.Checkpoints;

/// <summary>
/// Source-generated JSON for the checkpoint's metadata values (config, labels, feature statistics). No reflection, so
/// the same code loads checkpoints under NativeAOT (libser.so) and under the JIT; the bytes written are the ones the
/// reflection serializer wrote (same property order and number formatting), so existing checksums and files still hold.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(ModelConfig))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(float[]))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class CheckpointJson : JsonSerializerContext;
