using Ser.Engine.IO;

namespace Ser.Engine.Tests.IO;

/// <summary>
/// Makes every <see cref="AtomicFile"/> write in this async flow fail after a given number of bytes, as a full disk or
/// a failing device does, so a test can check what a writer leaves behind when it is interrupted midway.
/// </summary>
public static class FailingWrites
{
    public static IDisposable After(long bytes)
    {
        var previous = AtomicFile.StreamFilter.Value;
        AtomicFile.StreamFilter.Value = inner => new FailingStream(inner, bytes);
        return new Restore(previous);
    }

    sealed class Restore(Func<Stream, Stream>? previous) : IDisposable
    {
        public void Dispose() => AtomicFile.StreamFilter.Value = previous;
    }

    /// <summary>Passes writes through until <c>limit</c> bytes have gone in, then writes what fits and throws.</summary>
    public sealed class FailingStream(Stream inner, long limit) : Stream
    {
        long _written;

        public long Written => _written;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            long room = limit - _written;
            int now = (int)Math.Min(buffer.Length, Math.Max(0, room));
            inner.Write(buffer[..now]);
            inner.Flush(); // the partial bytes really reach the file
            _written += now;
            if (now < buffer.Length) throw new IOException($"No space left on device (simulated after {limit} bytes)");
        }

        // The file stream belongs to AtomicFile: never dispose it from here.
        protected override void Dispose(bool disposing) { }
    }
}
