namespace Ser.Engine.Data;

/// <summary>
/// A loaded corpus: its utterances (in a stable order: loaders sort by id) and its class list.
/// Classes always start with the paper's four (<see cref="Emotions.Four"/>), so class indices match the model's outputs.
/// </summary>
public sealed class Corpus
{
    readonly Dictionary<string, int> _classIndex;

    public Corpus(string name, IReadOnlyList<Utterance> utterances)
    {
        if (utterances.Count == 0)
            throw new SerException($"corpus {name}: no utterances");
        Name = name;
        Utterances = utterances;
        Classes = Emotions.ClassesOf(utterances.Select(u => u.Label));
        _classIndex = Classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
    }

    /// <summary>A description of where it came from (the spec it was loaded with).</summary>
    public string Name { get; }
    public IReadOnlyList<Utterance> Utterances { get; }
    public IReadOnlyList<string> Classes { get; }

    public int Count => Utterances.Count;
    public Utterance this[int i] => Utterances[i];

    public int ClassIndex(string label) =>
        _classIndex.TryGetValue(label, out int i) ? i : throw new SerException($"corpus {Name}: unknown label '{label}'");

    /// <summary>Class index of every utterance, in corpus order.</summary>
    public int[] LabelIndices() => Utterances.Select(u => ClassIndex(u.Label)).ToArray();

    public IReadOnlyList<string> Sessions => Utterances.Select(u => u.Session).Distinct().Order(StringComparer.Ordinal).ToArray();
    public IReadOnlyList<string> Speakers => Utterances.Select(u => u.Speaker).Distinct().Order(StringComparer.Ordinal).ToArray();
    public double TotalSeconds => Utterances.Sum(u => u.DurationSeconds);
}
