using Ser.Engine.IO;

namespace Ser.Engine.Tests.IO;

/// <summary>
/// Invariant 6 at its root: a write replaces the file whole or not at all. Every failure mode leaves the old bytes
/// exactly as they were and nothing else in the folder (no temporary file).
/// </summary>
public sealed class AtomicFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("ser-atomic-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    string WithOldFile(out byte[] old)
    {
        string path = Path.Combine(_dir, "target.bin");
        old = Bytes(50_000, 1);
        File.WriteAllBytes(path, old);
        return path;
    }

    void AssertFolderHoldsOnly(string path, byte[] old)
    {
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir)); // no temp file left, hidden or not
    }

    [Fact]
    public void A_writer_that_throws_midway_leaves_the_old_file_byte_identical()
    {
        string path = WithOldFile(out var old);
        var fresh = Bytes(80_000, 2);
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(fresh.AsSpan(0, 30_000)); // more than a write buffer: these bytes reach a file
            s.Flush();
            throw new InvalidOperationException("writer failed");
        }));
        Assert.Equal("writer failed", e.Message);
        AssertFolderHoldsOnly(path, old);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(65_537)]   // past the file stream's buffer
    public void A_stream_that_fails_midway_leaves_the_old_file_byte_identical(long failAfter)
    {
        string path = WithOldFile(out var old);
        var fresh = Bytes(200_000, 3);
        using (FailingWrites.After(failAfter))
            Assert.Throws<IOException>(() => AtomicFile.WriteAllBytes(path, fresh));
        AssertFolderHoldsOnly(path, old);

        AtomicFile.WriteAllBytes(path, fresh); // the filter is gone: the same write now succeeds
        AssertFolderHoldsOnly(path, fresh);
    }

    [Fact]
    public void A_failed_first_write_leaves_no_file_at_all()
    {
        string path = Path.Combine(_dir, "new.txt");
        using (FailingWrites.After(3))
            Assert.Throws<IOException>(() => AtomicFile.WriteAllText(path, "hello, world"));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void The_new_file_replaces_the_old_by_rename_so_an_open_reader_keeps_the_old_bytes()
    {
        // A rename swaps the directory entry; writing in place would change the bytes under an open reader.
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "rename over an open file is POSIX behaviour");
        string path = WithOldFile(out var old);
        using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var fresh = Bytes(old.Length, 4);
        AtomicFile.WriteAllBytes(path, fresh);
        var seen = new byte[old.Length];
        reader.ReadExactly(seen);
        Assert.Equal(old, seen);
        AssertFolderHoldsOnly(path, fresh);
    }
}
