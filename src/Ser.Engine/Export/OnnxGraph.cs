using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Ser.Engine.Export;

/// <summary>
/// A thin builder over OnnxSharp's generated ONNX protobuf types (ModelProto, GraphProto, NodeProto, TensorProto): it
/// names values, adds nodes and initializers, and nothing else. The wire format is written by Google.Protobuf; no byte
/// of the file is produced by hand here.
/// </summary>
internal sealed class OnnxGraph
{
    // TensorProto.DataType values (onnx.proto): FLOAT = 1, INT64 = 7.
    public const int Float = 1;
    public const int Int32 = 6;
    public const int Int64 = 7;

    readonly Dictionary<string, int> _used = new(StringComparer.Ordinal);

    public GraphProto Proto { get; } = new();

    /// <summary>A fresh value name built from a hint ("conv1", "conv1_1", ...).</summary>
    public string Name(string hint)
    {
        if (_used.TryGetValue(hint, out int n))
        {
            _used[hint] = n + 1;
            return Name($"{hint}_{n}");
        }
        _used[hint] = 1;
        return hint;
    }

    /// <summary>A float32 graph input; a dimension is a fixed size (long) or a symbolic name (string).</summary>
    public string Input(string name, params object[] dims) => TypedInput(name, Float, dims);

    public string TypedInput(string name, int elemType, params object[] dims)
    {
        if (!_used.TryAdd(name, 1)) throw new InvalidOperationException($"input name '{name}' is already a value");
        Proto.Input.Add(ValueInfo(name, elemType, dims));
        return name;
    }

    public void Output(string value, string name, int elemType, params object[] dims)
    {
        if (value != name && !_used.TryAdd(name, 1)) throw new InvalidOperationException($"output name '{name}' is already a value");
        if (value != name) Node("Identity", [value], name: name, output: name);
        Proto.Output.Add(ValueInfo(name, elemType, dims));
    }

    static ValueInfoProto ValueInfo(string name, int elemType, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                _ => new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) },
            });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }

    /// <summary>A float32 initializer (raw little-endian data).</summary>
    public string Const(string hint, ReadOnlySpan<float> values, params long[] dims)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length) throw new ArgumentException($"{hint}: {values.Length} values for dims [{string.Join(", ", dims)}]");
        string name = Name(hint);
        var t = new TensorProto { Name = name, DataType = Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)) };
        t.Dims.AddRange(dims);
        Proto.Initializer.Add(t);
        return name;
    }

    /// <summary>An int64 initializer of shape [values.Length] (or a scalar with scalar: true).</summary>
    public string ConstInt64(string hint, long[] values, bool scalar = false)
    {
        if (scalar && values.Length != 1) throw new ArgumentException("a scalar has one value");
        string name = Name(hint);
        var t = new TensorProto { Name = name, DataType = Int64 };
        if (!scalar) t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        Proto.Initializer.Add(t);
        return name;
    }

    public string Scalar(string hint, float value) => Const(hint, [value]);

    /// <summary>
    /// Adds a node with one output and returns the output's name: a fresh value name made from <paramref name="name"/>
    /// (or the op), which also names the node, so node names are unique too.
    /// </summary>
    public string Node(string op, string[] inputs, AttributeProto[]? attributes = null, string? name = null, string? output = null)
    {
        string o = output ?? Name(name ?? op.ToLowerInvariant());
        Nodes(op, inputs, [o], attributes, o);
        return o;
    }

    /// <summary>Adds a node with several outputs ("" for an omitted optional one).</summary>
    public void Nodes(string op, string[] inputs, string[] outputs, AttributeProto[]? attributes, string name)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        if (attributes is not null) node.Attribute.AddRange(attributes);
        Proto.Node.Add(node);
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Float32(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
}
