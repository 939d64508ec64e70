#!/usr/bin/env python3
"""Compile-checks the CUDA C the engine hands to NVRTC at run time, without a GPU.

NVRTC needs no driver: any libnvrtc.so (Debian's libnvrtc11.2 from non-free, a CUDA toolkit, or the pip
wheel) compiles our sources for a virtual architecture. The sources are the C# raw string constants named
`Source` in src/Ser.Engine/Backends/Cuda/*Kernels.cs; each is compiled with the options the engine uses.
Usage: tools/device/check-kernels.py [path/to/libnvrtc.so] ; exit code 0 when every source compiles.
"""
import ctypes, glob, os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CANDIDATES = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"]


def load(path):
    for name in ([path] if path else CANDIDATES):
        try:
            return ctypes.CDLL(name), name
        except OSError:
            continue
    sys.exit("no libnvrtc found (tried %s); install one (e.g. Debian non-free libnvrtc11.2)" % ", ".join(CANDIDATES))


def literal_options(text):
    opts = re.search(r'Options\s*=\s*\[([^\]]*)\]', text)
    return re.findall(r'"([^"]+)"', opts.group(1)) if opts else None


def sources():
    kernel_dir = os.path.join(ROOT, "src/Ser.Engine/Backends/Cuda")
    # Every kernel set compiles with CudaKernels.Options unless its file spells out a list of its own.
    shared = literal_options(open(os.path.join(kernel_dir, "CudaKernels.cs"), encoding="utf-8").read()) or []
    for file in sorted(glob.glob(os.path.join(kernel_dir, "*Kernels.cs"))):
        text = open(file, encoding="utf-8").read()
        for m in re.finditer(r'Source\s*=\s*"""\n(.*?)\n(\s*)""";', text, re.S):
            indent = len(m.group(2))
            body = "\n".join(line[indent:] for line in m.group(1).split("\n"))
            options = literal_options(text)
            yield os.path.relpath(file, ROOT), body, shared if options is None else options


def main():
    lib, name = load(sys.argv[1] if len(sys.argv) > 1 else None)
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    arch = "compute_90" if (major.value, minor.value) >= (11, 8) else "compute_80"
    print("NVRTC %d.%d (%s), target %s" % (major.value, minor.value, name, arch))
    failed = 0
    for path, body, options in sources():
        prog = ctypes.c_void_p()
        rc = lib.nvrtcCreateProgram(ctypes.byref(prog), body.encode(), os.path.basename(path).encode(), 0, None, None)
        assert rc == 0, "nvrtcCreateProgram failed: %d" % rc
        opts = options + ["--gpu-architecture=" + arch]
        if (major.value, minor.value) < (12, 0):
            opts = [o for o in opts if not o.startswith("--std=c++2")]
        argv = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
        rc = lib.nvrtcCompileProgram(prog, len(opts), argv)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        text = log.value.decode(errors="replace").strip()
        print("%s %s (%s)%s" % ("ok  " if rc == 0 else "FAIL", path, " ".join(opts), ("\n" + text) if text else ""))
        failed += rc != 0
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
