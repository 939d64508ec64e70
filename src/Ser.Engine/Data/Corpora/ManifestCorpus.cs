using System.Text;
using Ser.Engine.IO;

namespace Ser.Engine.Data.Corpora;

/// <summary>
/// A CSV manifest: "path,label,speaker[,session[,gender]]", one utterance per line.
/// The header is optional: a first line with a field named "path" is a header, and then columns are found by name
/// (path, label, speaker, session, gender; others ignored), so they may come in any order. Paths are relative to the
/// manifest's folder (absolute paths work too). Labels go through <see cref="Emotions.Normalize"/>; only the four classes
/// are kept unless <c>others</c>. Gender is '?' unless given. Without a session column, speakers get pseudo-sessions
/// (<see cref="PseudoSessions"/>). The id is the path without its extension. Fields may be double-quoted.
/// </summary>
public static class ManifestCorpus
{
    public static List<Utterance> Load(string file, bool others = false)
    {
        if (!File.Exists(file))
            throw new SerException($"manifest: file not found: {file}");
        string folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
        string[] lines = File.ReadAllLines(file);

        int path = 0, label = 1, speaker = 2, session = 3, gender = 4;
        int first = 0;
        string[] header = lines.Length > 0 ? SplitCsv(lines[0]).Select(h => h.Trim().ToLowerInvariant()).ToArray() : [];
        if (header.Contains("path"))
        {
            path = Array.IndexOf(header, "path");
            label = Array.IndexOf(header, "label");
            speaker = Array.IndexOf(header, "speaker");
            session = Array.IndexOf(header, "session");
            gender = Array.IndexOf(header, "gender");
            if (label < 0 || speaker < 0)
                throw new SerException($"{file}: header needs columns path, label, speaker (has: {lines[0].Trim()})");
            first = 1;
        }

        var list = new List<Utterance>();
        int withSession = 0;
        for (int i = first; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
                continue;
            string[] f = SplitCsv(lines[i]);
            string At(int column) => column >= 0 && column < f.Length ? f[column].Trim() : "";
            string rel = At(path), raw = At(label), who = At(speaker);
            if (rel.Length == 0 || raw.Length == 0 || who.Length == 0)
                throw new SerException($"{file}:{i + 1}: expected path,label,speaker[,session], got '{lines[i].Trim()}'");
            string name = Emotions.Normalize(raw);
            if (!Emotions.IsFour(name) && !others)
                continue;
            string audio = Path.GetFullPath(Path.Combine(folder, rel));
            if (!File.Exists(audio))
                throw new SerException($"{file}:{i + 1}: audio file not found: {audio}");
            string ses = At(session);
            if (ses.Length > 0)
                withSession++;
            char g = At(gender).ToUpperInvariant() is ['F', ..] ? 'F' : At(gender).ToUpperInvariant() is ['M', ..] ? 'M' : '?';
            string id = Path.ChangeExtension(rel.Replace('\\', '/'), null);
            list.Add(new Utterance(id, new FileAudioSource(audio), name, who, ses, g, WavProbe.DurationSeconds(audio)));
        }

        if (withSession != 0 && withSession != list.Count)
            throw new SerException($"{file}: the session column is filled on some lines but not on others");
        var duplicate = list.GroupBy(u => u.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new SerException($"{file}: '{duplicate.Key}' is listed more than once");
        if (withSession == 0)
            list = PseudoSessions.Apply(list);
        return list.OrderBy(u => u.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>Writes a manifest with a header (path,label,speaker,session,gender), atomically.</summary>
    public static void Write(string file, IEnumerable<(string Path, Utterance Utterance)> rows)
    {
        var text = new StringBuilder("path,label,speaker,session,gender\n");
        foreach (var (p, u) in rows)
            text.Append($"{Quote(p)},{Quote(u.Label)},{Quote(u.Speaker)},{Quote(u.Session)},{u.Gender}\n");
        AtomicFile.WriteAllText(file, text.ToString());
    }

    static string Quote(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>Splits one CSV line; double quotes protect commas, "" inside quotes is a quote.</summary>
    internal static string[] SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        fields.Add(current.ToString());
        return fields.ToArray();
    }
}
