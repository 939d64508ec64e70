"""Python client of libser.so through ctypes (no packages beyond the standard library).

    python3 ser_ctypes.py LIBSER MODEL CASES STREAM_PCM

CASES lines: "RAW_F32_FILE SAMPLE_RATE P0 P1 ..." with .NET EmotionRecognizer's probabilities; STREAM_PCM: 16 kHz raw
float32 speech with silences. Prints "N passed, N failed"; exit code 0 only if nothing failed.
"""
import array
import ctypes as C
import sys
import threading

SER_MAX_CLASSES = 16
OK, ERR_ARGUMENT, ERR_IO, ERR_FORMAT, ERR_BUFFER_TOO_SMALL = 0, 1, 2, 3, 4


class StreamParams(C.Structure):
    _fields_ = [("sample_rate", C.c_int), ("min_silence_s", C.c_float), ("min_segment_s", C.c_float),
                ("max_segment_s", C.c_float), ("partial_every_s", C.c_float)]


class Segment(C.Structure):
    _fields_ = [("start_s", C.c_double), ("end_s", C.c_double), ("label", C.c_int), ("is_final", C.c_int),
                ("probs", C.c_float * SER_MAX_CLASSES)]


def bind(path):
    lib = C.CDLL(path)
    lib.ser_abi_version.restype = C.c_int
    lib.ser_version.restype = C.c_char_p
    lib.ser_last_error.restype = C.c_char_p
    lib.ser_model_load.argtypes = [C.c_char_p, C.POINTER(C.c_void_p)]
    lib.ser_model_load_from_memory.argtypes = [C.c_void_p, C.c_size_t, C.POINTER(C.c_void_p)]
    lib.ser_model_free.argtypes = [C.c_void_p]
    lib.ser_model_free.restype = None
    lib.ser_model_class_count.argtypes = [C.c_void_p]
    lib.ser_model_class_name.argtypes = [C.c_void_p, C.c_int]
    lib.ser_model_class_name.restype = C.c_char_p
    lib.ser_classify.argtypes = [C.c_void_p, C.POINTER(C.c_float), C.c_size_t, C.c_int, C.POINTER(C.c_float), C.c_size_t]
    lib.ser_stream_default_params.restype = StreamParams
    lib.ser_stream_create.argtypes = [C.c_void_p, C.POINTER(StreamParams), C.POINTER(C.c_void_p)]
    lib.ser_stream_push.argtypes = [C.c_void_p, C.POINTER(C.c_float), C.c_size_t]
    lib.ser_stream_poll.argtypes = [C.c_void_p, C.POINTER(Segment), C.c_size_t, C.POINTER(C.c_size_t)]
    lib.ser_stream_flush.argtypes = [C.c_void_p]
    lib.ser_stream_free.argtypes = [C.c_void_p]
    lib.ser_stream_free.restype = None
    return lib


def read_f32(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def main():
    lib_path, model_path, cases_path, stream_path = sys.argv[1:5]
    lib = bind(lib_path)
    passed = failed = 0

    def check(cond, what):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {what} [last error: {lib.ser_last_error().decode()}]")

    check(lib.ser_abi_version() == 1, "abi version")
    check(lib.ser_version().startswith(b"ser "), "version")

    model = C.c_void_p()
    check(lib.ser_model_load(b"/nonexistent.ser", C.byref(model)) == ERR_IO and not model.value, "missing file")
    check(b"/nonexistent.ser" in lib.ser_last_error(), "message names the file")
    blob = open(model_path, "rb").read()
    check(lib.ser_model_load_from_memory(blob[: len(blob) // 2], len(blob) // 2, C.byref(model)) == ERR_FORMAT, "truncated")
    check(lib.ser_model_load(model_path.encode(), C.byref(model)) == OK and model.value, "load")
    k = lib.ser_model_class_count(model)
    names = [lib.ser_model_class_name(model, i).decode() for i in range(k)]
    check(k == 4 and names == ["neutral", "angry", "happy", "sad"], f"classes {names}")
    check(lib.ser_model_class_name(model, k) is None, "class name out of range")

    def classify(pcm, rate, out_len=SER_MAX_CLASSES):
        x = (C.c_float * len(pcm)).from_buffer(pcm)
        probs = (C.c_float * SER_MAX_CLASSES)()
        status = lib.ser_classify(model, x, len(pcm), rate, probs, out_len)
        return status, list(probs)[:k]

    cases = []
    for line in open(cases_path):
        parts = line.split()
        if parts:
            cases.append((read_f32(parts[0]), int(parts[1]), [float(v) for v in parts[2:]]))
    results = []
    for i, (pcm, rate, expect) in enumerate(cases):
        status, probs = classify(pcm, rate)
        worst = max(abs(a - b) for a, b in zip(probs, expect))
        check(status == OK and worst <= 1e-5, f"case {i}: status {status}, |diff| {worst:g} vs EmotionRecognizer")
        results.append(probs)
    pcm0, _, _ = cases[0]
    check(classify(pcm0, 7999)[0] == ERR_ARGUMENT, "rate 7999")
    check(classify(pcm0, 16000, k - 1)[0] == ERR_BUFFER_TOO_SMALL, "small buffer")
    nan = array.array("f", [0.0] * 100)
    nan[7] = float("nan")
    check(classify(nan, 16000)[0] == ERR_ARGUMENT, "NaN")
    check(lib.ser_classify(model, None, 10, 16000, (C.c_float * 16)(), 16) == ERR_ARGUMENT, "NULL pcm")

    # 4 Python threads at once (ctypes releases the GIL during the call)
    mismatches = []

    def work(t):
        for j in range(len(cases)):
            i = (j + t) % len(cases)
            status, probs = classify(cases[i][0], cases[i][1])
            if status != OK or probs != results[i]:
                mismatches.append((t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not mismatches, f"threads: {mismatches}")

    # the stream, in 1-second and 777-sample chunks
    speech = read_f32(stream_path)

    def run(chunk):
        s = C.c_void_p()
        params = lib.ser_stream_default_params()
        assert lib.ser_stream_create(model, C.byref(params), C.byref(s)) == OK
        segs, buf, n = [], (Segment * 64)(), C.c_size_t()
        x = (C.c_float * len(speech)).from_buffer(speech)
        for i in range(0, len(speech), chunk):
            m = min(chunk, len(speech) - i)
            assert lib.ser_stream_push(s, C.cast(C.byref(x, 4 * i), C.POINTER(C.c_float)), m) == OK
            assert lib.ser_stream_poll(s, buf, 64, C.byref(n)) == OK
            segs += [(b.start_s, b.end_s, b.label, b.is_final, list(b.probs)) for b in buf[: n.value]]
        assert lib.ser_stream_flush(s) == OK
        assert lib.ser_stream_poll(s, buf, 64, C.byref(n)) == OK
        segs += [(b.start_s, b.end_s, b.label, b.is_final, list(b.probs)) for b in buf[: n.value]]
        lib.ser_stream_free(s)
        return segs

    a, b = run(16000), run(777)
    check(len(a) >= 2 and all(seg[3] == 1 for seg in a), f"{len(a)} final segments")
    check(a == b, "chunk size does not change the segments")
    lib.ser_model_free(model)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
