using System.Runtime.ExceptionServices;

namespace Ser.Engine.Backends.Cpu;

/// <summary>
/// A fixed set of threads that run the items of one parallel loop at a time, with the calling thread as worker 0.
/// Why not Parallel.For: it allocates on every call and cannot tell the body which worker it runs on, and each worker
/// needs its own scratch memory (slabs, packed GEMM panels) taken from the workspace arena.
/// Items are claimed dynamically, so bodies must write disjoint outputs (or per-item partials reduced afterwards in a
/// fixed order); results then never depend on scheduling or on the worker count.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    readonly Thread[] _threads;
    readonly SemaphoreSlim _start = new(0);
    // Released once per Run by the last helper. A SemaphoreSlim, not a ManualResetEventSlim: the latter creates its
    // lock object the first time a waiter really blocks, a 24-byte allocation in some random later step.
    readonly SemaphoreSlim _done = new(0);
    Action<int, int>? _body;
    int _items, _next, _pending, _running;
    volatile bool _disposed;
    Exception? _error;

    public WorkerPool(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        Workers = workers;
        _threads = new Thread[workers - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int worker = i + 1;
            _threads[i] = new Thread(() => Loop(worker)) { IsBackground = true, Name = $"ser-cpu-{worker}" };
            _threads[i].Start();
        }
    }

    public int Workers { get; }

    /// <summary>Runs body(item, worker) for item in [0, items); returns when all are done. Not re-entrant.</summary>
    public void Run(Action<int, int> body, int items)
    {
        if (items <= 0) return;
        if (Interlocked.Exchange(ref _running, 1) != 0) throw new InvalidOperationException("WorkerPool.Run is not re-entrant");
        try
        {
            int helpers = Math.Min(items - 1, _threads.Length);
            if (helpers == 0)
            {
                for (int i = 0; i < items; i++) body(i, 0);
                return;
            }
            _body = body;
            _items = items;
            _next = 0;
            _error = null;
            _pending = helpers;
            _start.Release(helpers);
            Work(0);
            _done.Wait();
            _body = null;
            if (_error is { } e) ExceptionDispatchInfo.Capture(e).Throw();
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    void Loop(int worker)
    {
        while (true)
        {
            _start.Wait();
            if (_disposed) return;
            Work(worker);
            if (Interlocked.Decrement(ref _pending) == 0) _done.Release();
        }
    }

    void Work(int worker)
    {
        var body = _body!;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < _items)
                body(i, worker);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
            Volatile.Write(ref _next, int.MaxValue / 2); // stop handing out items
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_threads.Length > 0) _start.Release(_threads.Length);
        foreach (var t in _threads) t.Join();
        _start.Dispose();
        _done.Dispose();
    }
}
