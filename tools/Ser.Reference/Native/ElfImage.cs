using System.Buffers.Binary;
using System.Text;

namespace Ser.Reference.Native;

/// <summary>
/// A minimal read-only view of a 64-bit little-endian ELF shared object (x86-64, aarch64): only the parts the
/// libstdc++ version fix needs. It reads the section headers (both files we look at keep them) and from them
/// the dynamic symbol table, symbol versions (.gnu.version), version definitions (.gnu.version_d, what a library
/// provides), version needs (.gnu.version_r, what a library requires) and the relocation tables.
/// Layouts follow the System V gABI and the LSB "Symbol Versioning" chapter (Elf64_Verdef, Elf64_Verneed, ...).
/// </summary>
internal sealed class ElfImage
{
    // Section types (sh_type).
    private const uint ShtRela = 4, ShtDynsym = 11, ShtRel = 9;
    private const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;

    /// <summary>Vernaux vna_flags bit: a missing version is a warning, not a load error.</summary>
    public const ushort VerFlagWeak = 0x2;

    private readonly byte[] _bytes;
    private readonly Section[] _sections;

    private readonly record struct Section(uint Type, ulong Offset, ulong Size, uint Link, ulong EntrySize);

    /// <summary>One Vernaux entry: library <paramref name="File"/> must define version <paramref name="Name"/>.</summary>
    /// <param name="Index">vna_other: the value symbols of this version carry in .gnu.version.</param>
    /// <param name="FlagsOffset">File offset of the 2-byte vna_flags field (what the patch rewrites).</param>
    public readonly record struct VersionNeed(string File, string Name, ushort Flags, ushort Index, int FlagsOffset)
    {
        public bool IsWeak => (Flags & VerFlagWeak) != 0;
    }

    private ElfImage(byte[] bytes, Section[] sections)
    {
        _bytes = bytes;
        _sections = sections;
    }

    public byte[] Bytes => _bytes;

    /// <summary>Parses the ELF header and section headers; throws <see cref="InvalidDataException"/> on anything else.</summary>
    public static ElfImage Parse(byte[] bytes)
    {
        // e_ident: magic, EI_CLASS = 2 (64-bit), EI_DATA = 1 (little-endian).
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (bytes[4] != 2 || bytes[5] != 1)
            throw new InvalidDataException("not a 64-bit little-endian ELF file");

        ulong shOff = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(0x28));
        ushort shEntSize = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(0x3a));
        ushort shNum = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(0x3c));
        if (shOff == 0 || shNum == 0)
            throw new InvalidDataException("ELF file has no section headers");
        if (shEntSize < 64 || shOff + (ulong)shEntSize * shNum > (ulong)bytes.Length)
            throw new InvalidDataException("ELF section headers out of range");

        var sections = new Section[shNum];
        for (int i = 0; i < shNum; i++)
        {
            // Elf64_Shdr: name u32, type u32, flags u64, addr u64, offset u64, size u64, link u32, info u32, align u64, entsize u64
            var h = bytes.AsSpan((int)(shOff + (ulong)(i * shEntSize)), 64);
            var s = new Section(
                Type: BinaryPrimitives.ReadUInt32LittleEndian(h[4..]),
                Offset: BinaryPrimitives.ReadUInt64LittleEndian(h[24..]),
                Size: BinaryPrimitives.ReadUInt64LittleEndian(h[32..]),
                Link: BinaryPrimitives.ReadUInt32LittleEndian(h[40..]),
                EntrySize: BinaryPrimitives.ReadUInt64LittleEndian(h[56..]));
            // SHT_NOBITS (8) occupies no file bytes; every other section must lie inside the file.
            if (s.Type != 8 && s.Offset + s.Size > (ulong)bytes.Length)
                throw new InvalidDataException($"ELF section {i} out of range");
            sections[i] = s;
        }
        return new ElfImage(bytes, sections);
    }

    /// <summary>Version names this library defines (.gnu.version_d), e.g. GLIBCXX_3.4.30. Empty if none.</summary>
    public IReadOnlyList<string> VersionDefinitions()
    {
        var names = new List<string>();
        foreach (var s in SectionsOfType(ShtGnuVerdef))
        {
            int at = (int)s.Offset;
            while (true)
            {
                // Elf64_Verdef: version u16, flags u16, ndx u16, cnt u16, hash u32, aux u32, next u32.
                // The first Verdaux (vda_name u32, vda_next u32) names the version itself; later ones its parents.
                uint aux = U32(at + 12), next = U32(at + 16);
                names.Add(String(s.Link, U32(at + (int)aux)));
                if (next == 0) break;
                at += (int)next;
            }
        }
        return names;
    }

    /// <summary>Every version this library requires of its dependencies (.gnu.version_r).</summary>
    public IReadOnlyList<VersionNeed> VersionNeeds()
    {
        var needs = new List<VersionNeed>();
        foreach (var s in SectionsOfType(ShtGnuVerneed))
        {
            int at = (int)s.Offset;
            while (true)
            {
                // Elf64_Verneed: version u16, cnt u16, file u32, aux u32, next u32.
                ushort count = U16(at + 2);
                string file = String(s.Link, U32(at + 4));
                int aux = at + (int)U32(at + 8);
                for (int i = 0; i < count; i++)
                {
                    // Elf64_Vernaux: hash u32, flags u16, other u16, name u32, next u32.
                    needs.Add(new VersionNeed(file, String(s.Link, U32(aux + 8)), U16(aux + 4), U16(aux + 6), aux + 4));
                    aux += (int)U32(aux + 12);
                }
                uint next = U32(at + 12);
                if (next == 0) break;
                at += (int)next;
            }
        }
        return needs;
    }

    /// <summary>
    /// Names of the dynamic symbols that carry version index <paramref name="versionIndex"/> (vna_other),
    /// and how many relocation entries refer to each. A symbol with no relocation is never looked up by the
    /// dynamic linker, so it can never be bound, called or read.
    /// </summary>
    public IReadOnlyList<(string Symbol, int Relocations)> SymbolsOfVersion(ushort versionIndex)
    {
        var dynsymIndex = Array.FindIndex(_sections, s => s.Type == ShtDynsym);
        if (dynsymIndex < 0) return [];
        var dynsym = _sections[dynsymIndex];
        var versym = _sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
        if (versym.Type == 0) return [];

        int symbolCount = (int)(dynsym.Size / 24); // sizeof(Elf64_Sym)
        var relocationsPerSymbol = new int[symbolCount];
        foreach (var s in _sections)
        {
            // Only relocation tables that index the dynamic symbol table matter at load time.
            if ((s.Type != ShtRela && s.Type != ShtRel) || s.Link != dynsymIndex) continue;
            int entry = s.Type == ShtRela ? 24 : 16; // Elf64_Rela / Elf64_Rel
            for (ulong at = s.Offset; at + (ulong)entry <= s.Offset + s.Size; at += (ulong)entry)
            {
                ulong info = U64((int)at + 8);
                long symbol = (long)(info >> 32); // ELF64_R_SYM
                if (symbol < symbolCount) relocationsPerSymbol[symbol]++;
            }
        }

        var result = new List<(string, int)>();
        for (int i = 1; i < symbolCount; i++)
        {
            // .gnu.version: one u16 per dynamic symbol; bit 15 marks a hidden symbol.
            if ((U16((int)versym.Offset + 2 * i) & 0x7fff) != versionIndex) continue;
            uint name = U32((int)dynsym.Offset + 24 * i); // Elf64_Sym.st_name
            result.Add((String(dynsym.Link, name), relocationsPerSymbol[i]));
        }
        return result;
    }

    private IEnumerable<Section> SectionsOfType(uint type) => _sections.Where(s => s.Type == type);

    private ushort U16(int at) => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(at));
    private uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(at));
    private ulong U64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(at));

    /// <summary>A NUL-terminated string at <paramref name="offset"/> in string table section <paramref name="table"/>.</summary>
    private string String(uint table, uint offset)
    {
        var s = _sections[table];
        var span = _bytes.AsSpan((int)(s.Offset + offset), (int)(s.Size - offset));
        int end = span.IndexOf((byte)0);
        if (end < 0) throw new InvalidDataException("unterminated ELF string");
        return Encoding.ASCII.GetString(span[..end]);
    }
}
