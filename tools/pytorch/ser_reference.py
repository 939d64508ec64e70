#!/usr/bin/env python3
"""The Ser CRNN in PyTorch, for the engine-vs-PyTorch GPU comparison (model contract: /work/shared/model_contract.md).

Same semantics as the engine and the TorchSharp reference (tools/Ser.Reference):
  x [B,1,T,F]; 3 x (Conv2d "same" (even k: (k-1)//2 before, k//2 after) + bias, mask frames t >= V_b, ReLU,
  MaxPool 2x2 ceil mode; V_b <- ceil(V_b/2)); reshape [B,C3,T3,F3] -> [B,T3,C3*F3] (index c*F3+f);
  BiLSTM (gates i,f,g,o; single bias = b_ih, b_hh frozen at 0) read at each sample's own ends:
  u = [h_fw at V3_b-1, h_bw after step 0 started at V3_b-1]; fc1 + ReLU + dropout; fc2 -> logits [B,K];
  loss = sum_b w_b CE_b / sum_b w_b with w_b = 1 / (V_b * n[y_b]).
Speed path: the padded batch through cuDNN convolutions, the LSTM as one cuDNN call on a PackedSequence
(pack_padded_sequence; a packed LSTM runs each direction over each sample's valid steps only, which IS the contract).

Commands (PyTorch 2.x; numpy not needed; safetensors parsed by hand):
  python3 ser_reference.py check [--checkpoint C] [--probe P]   semantics self-test (+ engine logits if a probe is given)
  python3 ser_reference.py bench --device cuda --batches bench/results/cpu-vs-torchsharp.json --out bench/results/pytorch-cuda
Output JSON uses the .NET harness's schema "ser-bench/1"; join with
  dotnet run -c Release --project tools/Ser.Reference -- join A.json B.json -a engine-cuda -b pytorch-cuda --out ...
"""
import argparse
import json
import math
import os
import platform
import random
import statistics
import struct
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Copies of ModelConfig.Paper / ModelConfig.Small; a checkpoint's or a harness JSON's "config" takes precedence.
PRESETS = {
    "paper": dict(channels=[16, 24, 32], kernels=[[12, 16], [8, 12], [5, 7]], hidden=128, dense=64, classes=4, dropout=0.5, bins=400),
    "small": dict(channels=[4, 8, 8], kernels=[[6, 8], [4, 6], [3, 4]], hidden=32, dense=32, classes=4, dropout=0.3, bins=400),
}
SCHEMA = "ser-bench/1"


# ---- checkpoints (safetensors: u64 LE header size N, N bytes JSON, raw little-endian tensor bytes) ------------------

def contract_sha256(meta, entries, data):
    """The contract's sha256. A Ser checkpoint of format 2 covers everything: every metadata entry but sha256 (sorted by
    the keys' UTF-8 bytes; u64le length + key, u64le length + value), every tensor in file order (u64le length + name,
    u64le rank, u64le dims), then the data bytes. Format 1 and other files: the data bytes alone."""
    import hashlib
    h = hashlib.sha256()
    if meta.get("format") == "ser-checkpoint" and meta.get("format_version") == "2":
        def text(s):
            b = s.encode("utf-8")
            h.update(struct.pack("<Q", len(b)) + b)
        for key in sorted((k for k in meta if k != "sha256"), key=lambda k: k.encode("utf-8")):
            text(key)
            text(meta[key])
        for name, entry in sorted(entries.items(), key=lambda e: e[1]["data_offsets"][0]):
            text(name)
            h.update(struct.pack("<Q", len(entry["shape"])))
            for d in entry["shape"]:
                h.update(struct.pack("<Q", d))
    h.update(data)
    return h.hexdigest()


def read_safetensors(path):
    """Returns ({name: float32 tensor}, metadata). Checks offsets and the contract's sha256 (contract_sha256)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SystemExit(f"{path}: not a checkpoint (shorter than its header size)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise SystemExit(f"{path}: header size {n} does not fit a {len(blob)}-byte file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    if "sha256" in meta and contract_sha256(meta, header, data) != meta["sha256"].lower():
        raise SystemExit(f"{path}: checksum mismatch (sha256 differs from the header)")
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} has dtype {entry['dtype']}, only F32 is supported")
        begin, end = entry["data_offsets"]
        shape = entry["shape"]
        if end - begin != 4 * math.prod(shape) or end > len(data):
            raise SystemExit(f"{path}: tensor {name}: data_offsets do not fit its shape or the file")
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32) if end > begin else torch.zeros(0)
        tensors[name] = t.reshape(shape).clone()
    return tensors, meta


def config_of(meta, path):
    if "config" not in meta:
        raise SystemExit(f"{path}: checkpoint metadata has no 'config'")
    c = json.loads(meta["config"])
    c.setdefault("bins", 400)
    return c


# ---- the model ----------------------------------------------------------------------------------------------------

class Crnn(nn.Module):
    """Legend: B batch, T frames, F bins, C channels, I = C3*F3, H hidden per direction, D dense, K classes."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        chans, kernels = cfg["channels"], cfg["kernels"]
        cin = 1
        self.convs = nn.ModuleList()
        for cout, (kt, kf) in zip(chans, kernels):
            # pad k//2 on both sides; for an even k that yields one extra leading output row/col, dropped in forward
            self.convs.append(nn.Conv2d(cin, cout, (kt, kf), padding=(kt // 2, kf // 2)))
            cin = cout
        f3 = cfg["bins"]
        for _ in chans:
            f3 = (f3 + 1) // 2
        self.lstm = nn.LSTM(cin * f3, cfg["hidden"], batch_first=True, bidirectional=True)
        for name in ("bias_hh_l0", "bias_hh_l0_reverse"):  # the contract's single bias is b_ih
            getattr(self.lstm, name).data.zero_()
            getattr(self.lstm, name).requires_grad_(False)
        self.fc1 = nn.Linear(2 * cfg["hidden"], cfg["dense"])
        self.fc2 = nn.Linear(cfg["dense"], cfg["classes"])
        self.dropout = nn.Dropout(cfg["dropout"])

    NAMES = {"lstm.fw.w_ih": "lstm.weight_ih_l0", "lstm.fw.w_hh": "lstm.weight_hh_l0", "lstm.fw.bias": "lstm.bias_ih_l0",
             "lstm.bw.w_ih": "lstm.weight_ih_l0_reverse", "lstm.bw.w_hh": "lstm.weight_hh_l0_reverse",
             "lstm.bw.bias": "lstm.bias_ih_l0_reverse"}

    def torch_name(self, contract):
        if contract in self.NAMES:
            return self.NAMES[contract]
        if contract.startswith("conv"):
            return f"convs.{int(contract[4]) - 1}.{contract.split('.')[1]}"
        return contract  # fc1.weight ...

    def load_contract(self, tensors):
        own = dict(self.named_parameters())
        names = [n for n in tensors if not n.startswith("adam.")]
        if len(names) != 16:
            raise SystemExit(f"checkpoint has {len(names)} parameter tensors, the contract has 16")
        with torch.no_grad():
            for name in names:
                p = own[self.torch_name(name)]
                if tuple(p.shape) != tuple(tensors[name].shape):
                    raise SystemExit(f"{name}: shape {list(tensors[name].shape)}, the model needs {list(p.shape)}")
                p.copy_(tensors[name])

    def forward(self, x, lengths):
        """x [B,T,F] (zero past each length), lengths: list of ints. Returns logits [B,K]."""
        b = x.shape[0]
        x = x.unsqueeze(1)                                                    # [B,1,T,F]
        valid = list(lengths)                                                 # host-side, so packing needs no device sync
        for conv in self.convs:
            kt, kf = conv.kernel_size
            x = conv(x)
            if kt % 2 == 0:
                x = x[:, :, 1:, :]
            if kf % 2 == 0:
                x = x[:, :, :, 1:]
            v = torch.as_tensor(valid, device=x.device)
            mask = (torch.arange(x.shape[2], device=x.device)[None, :] < v[:, None]).to(x.dtype)
            x = F.relu(x * mask[:, None, :, None])                             # mask, ReLU: [B,C,T,F]
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            valid = [(n + 1) // 2 for n in valid]
        seq = x.permute(0, 2, 1, 3).reshape(b, x.shape[2], -1)                 # [B,T3,I], index c*F3+f
        packed = nn.utils.rnn.pack_padded_sequence(seq, torch.as_tensor(valid), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)                                       # [2,B,H], original batch order
        u = torch.cat([h_n[0], h_n[1]], dim=1)                                 # [B,2H]
        return self.fc2(self.dropout(F.relu(self.fc1(u))))


def weighted_loss(logits, lengths, labels, counts=None, normalizer=0.0, length_weight=True):
    """The engine's loss: sum_b w_b CE_b / N, w_b = 1 / (V_b n[y_b]) (no V_b without length_weight), N = normalizer
    (a constant, e.g. batch size x the training split's mean w) or, when 0, the batch's own sum of w."""
    n = torch.ones(logits.shape[1], dtype=torch.float64) if counts is None else torch.as_tensor(counts, dtype=torch.float64)
    v = torch.as_tensor(lengths, dtype=torch.float64) if length_weight else torch.ones(len(lengths), dtype=torch.float64)
    w = (1.0 / (v * n[torch.as_tensor(labels)])).to(logits)
    ce = F.cross_entropy(logits, torch.as_tensor(labels, device=logits.device), reduction="none")
    return (w * ce).sum() / (normalizer if normalizer > 0 else w.sum())


def oracle_logits(model, x, lengths):
    """Step-by-step float64 LSTM with per-sample freezing (the readable semantics), convs as in the model."""
    m = model.double()
    with torch.no_grad():
        b = x.shape[0]
        h = x.double().unsqueeze(1)
        valid = torch.as_tensor(lengths)
        for conv in m.convs:
            kt, kf = conv.kernel_size
            pt, pf = (kt - 1) // 2, (kf - 1) // 2
            h = F.conv2d(F.pad(h, (pf, kf - 1 - pf, pt, kt - 1 - pt)), conv.weight, conv.bias)
            h = F.relu(h) * (torch.arange(h.shape[2])[None, :] < valid[:, None]).double()[:, None, :, None]
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            valid = (valid + 1) // 2
        seq = h.permute(0, 2, 1, 3).reshape(b, h.shape[2], -1)
        outs = []
        for sfx, reverse in (("", False), ("_reverse", True)):
            w_ih, w_hh = getattr(m.lstm, "weight_ih_l0" + sfx), getattr(m.lstm, "weight_hh_l0" + sfx)
            bias = getattr(m.lstm, "bias_ih_l0" + sfx)
            hs = torch.zeros(b, w_hh.shape[1], dtype=torch.float64)
            cs = torch.zeros_like(hs)
            steps = seq.shape[1]
            for s in range(steps):
                t = steps - 1 - s if reverse else s
                i, f, g, o = (seq[:, t] @ w_ih.T + bias + hs @ w_hh.T).chunk(4, 1)
                c2 = torch.sigmoid(f) * cs + torch.sigmoid(i) * torch.tanh(g)
                h2 = torch.sigmoid(o) * torch.tanh(c2)
                keep = (t < valid)[:, None]
                cs, hs = torch.where(keep, c2, cs), torch.where(keep, h2, hs)
            outs.append(hs)
        logits = m.fc2(F.relu(m.fc1(torch.cat(outs, 1))))
    model.float()
    return logits


# ---- batches ------------------------------------------------------------------------------------------------------

def draw_lengths(name, count, seed):
    """Frames (100/s): lognormal median 3.5 s, sigma 0.6, clipped 1..12 s; or uniform 1..12 s (same laws as the harness)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        if name == "lognormal":
            z = math.sqrt(-2 * math.log(1 - rng.random())) * math.cos(2 * math.pi * rng.random())
            sec = min(max(3.5 * math.exp(0.6 * z), 1.0), 12.0)
        elif name == "uniform":
            sec = 1.0 + 11.0 * rng.random()
        else:
            raise SystemExit(f"unknown distribution {name}")
        out.append(int(round(sec * 100)))
    return out


def make_batch(lengths, bins, classes, seed):
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    x = (torch.rand(len(lengths), t, bins, generator=g) * 2 - 1) * 1.7              # [B,T,F], unit variance
    x *= (torch.arange(t)[None, :] < torch.as_tensor(lengths)[:, None]).float()[:, :, None]
    labels = torch.randint(0, classes, (len(lengths),), generator=g).tolist()
    return x, labels


# ---- commands -----------------------------------------------------------------------------------------------------

def cmd_check(args):
    """Packed cuDNN-style model == step-by-step float64 oracle on a ragged unsorted batch; engine probe logits if given."""
    torch.manual_seed(0)
    if args.checkpoint:
        tensors, meta = read_safetensors(args.checkpoint)
        cfg = config_of(meta, args.checkpoint)
    else:
        tensors, cfg = None, dict(PRESETS[args.preset])
    model = Crnn(cfg)
    if tensors:
        model.load_contract(tensors)
    model.eval()
    lengths = [9, 23, 1, 6, 14]
    x, _ = make_batch(lengths, cfg["bins"], cfg["classes"], 1)
    with torch.no_grad():
        fast = model(x, lengths).double()
    ref = oracle_logits(model, x, lengths)
    err = (fast - ref).abs().max().item()
    print(f"packed LSTM model vs float64 step-by-step oracle: max |logit diff| {err:.2e}")
    ok = err <= 1e-4
    if args.probe:
        probe, _ = read_safetensors(args.probe)
        px, pl = probe["features"], [int(v) for v in probe["lengths"].tolist()]
        with torch.no_grad():
            got = model(px, pl)
        d = (got.double() - probe["logits"].double()).abs()
        bound = 1e-4 + 1e-3 * probe["logits"].double().abs()
        loss = weighted_loss(got.double(), pl, [int(v) for v in probe["labels"].tolist()]).item()
        print(f"engine probe: max |logit diff| {d.max().item():.2e}; loss {loss:.7f} vs engine {probe['loss'].item():.7f}")
        ok = ok and bool((d <= bound).all()) and abs(loss - probe["loss"].item()) <= 1e-4 * max(1.0, abs(loss))
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


def timed(fn, device, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1000.0)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return times


def git_commit():
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cmd_bench(args):
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device visible to PyTorch")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = True  # cuDNN picks its fastest conv algorithms per shape (after warm-up)

    # float32 means float32: PyTorch lets cuDNN convolutions use TF32 on Ampere+ by default; off unless --tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32

    spec = None
    if args.batches:
        with open(args.batches) as f:
            spec = json.load(f)
        if spec.get("tool") == "sertool bench":  # `sertool bench` output: batch b is the first b of its length set
            lengths = spec["lengths_frames"]
            spec = dict(schema=SCHEMA, preset=args.preset, batches=[
                dict(distribution="lognormal", lengths=lengths[:r["batch"]]) for r in spec["results"] if r["preset"] == args.preset])
        if spec.get("schema") != SCHEMA:
            raise SystemExit(f"{args.batches}: schema {spec.get('schema')!r}, expected {SCHEMA!r} or sertool bench's JSON")
    if args.checkpoint:
        tensors, meta = read_safetensors(args.checkpoint)
        cfg = config_of(meta, args.checkpoint)
    else:
        tensors = None
        cfg = dict(spec["config"]) if spec and "config" in spec else dict(PRESETS[args.preset])
        cfg.setdefault("bins", 400)
    preset = spec.get("preset", args.preset) if spec else args.preset
    if spec:  # the harness's exact batches: same lengths per (distribution, batch)
        batches = [(b["distribution"], b["lengths"]) for b in spec["batches"]]
    else:
        sizes = [int(s) for s in args.batch_sizes.split(",")]
        batches = []
        for dist in args.distributions.split(","):
            pool = draw_lengths(dist, max(sizes), args.seed)
            batches += [(dist, pool[:n]) for n in sizes]

    torch.manual_seed(args.seed)
    model = Crnn(cfg)
    if tensors:
        model.load_contract(tensors)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    name = f"pytorch-{device.type}"
    measurements, batch_rows = [], []
    wall = time.perf_counter()
    for dist, lengths in batches:
        x_host, labels = make_batch(lengths, cfg["bins"], cfg["classes"], args.seed + len(lengths))
        if device.type == "cuda":
            x_host = x_host.pin_memory()
        audio = sum(lengths) / 100.0
        batch_rows.append(dict(distribution=dist, batch=len(lengths), frames=max(lengths), audio_seconds=audio, lengths=lengths))

        def forward():  # inference: upload + forward, like the engine's Evaluate
            model.eval()
            with torch.no_grad():
                model(x_host.to(device, non_blocking=True), lengths)

        def train_step():  # upload + forward (dropout on) + weighted loss + backward + Adam, like TrainStep
            model.train()
            opt.zero_grad(set_to_none=True)
            logits = model(x_host.to(device, non_blocking=True), lengths)
            weighted_loss(logits, lengths, labels).backward()
            opt.step()

        for mode, fn in (("forward", forward), ("train_step", train_step)):
            times = timed(fn, device, args.warmup, args.repeats)
            med = statistics.median(times)
            measurements.append(dict(implementation=name, distribution=dist, batch=len(lengths), mode=mode, median_seconds=med,
                                     times=times, audio_seconds=audio, utterances_per_s=len(lengths) / med,
                                     audio_seconds_per_s=audio / med))
            print(f"  {dist:9s} B={len(lengths):<3d} T={max(lengths):<5d} {mode:10s} {med * 1000:9.1f} ms", flush=True)

    doc = dict(
        schema=SCHEMA, tool="python3 tools/pytorch/ser_reference.py bench", args=" ".join(sys.argv[1:]),
        date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), git_commit=git_commit(),
        machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), os=platform.platform(),
                     runtime=f"Python {platform.python_version()}, PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}",
                     gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None),
        preset=preset, config=cfg, config_text=json.dumps(cfg), seed=args.seed, warmup=args.warmup, repeats=args.repeats,
        wall_seconds=round(time.perf_counter() - wall, 1),
        implementations={name: dict(
            device=device.type, threads=torch.get_num_threads(), version=f"PyTorch {torch.__version__}",
            computes=f"float32 (TF32 {'on' if args.tf32 else 'off'}); cuDNN/oneDNN convolutions + mask + ReLU + ceil max-pool on the whole padded batch; one "
                     "bidirectional nn.LSTM on a PackedSequence (valid steps only); train step = host->device copy + forward "
                     "(dropout on) + weighted loss + backward + torch.optim.Adam (lr 1e-3); CUDA times from CUDA events")},
        batches=batch_rows, measurements=measurements, comparisons=[])
    tmp = args.out + ".json.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
    os.replace(tmp, args.out + ".json")
    print(f"wrote {args.out}.json")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="semantics self-test; with --probe, compare with the engine's logits")
    c.add_argument("--checkpoint", help="engine checkpoint (safetensors)")
    c.add_argument("--probe", help="probe file from `Ser.Reference probe` (features, lengths, labels, engine logits/loss)")
    c.add_argument("--preset", default="small", choices=sorted(PRESETS))
    b = sub.add_parser("bench", help="time forward and training step; JSON in the harness's schema")
    b.add_argument("--device", default="cuda")
    b.add_argument("--batches", help="harness JSON whose batches (lengths) and config to reuse, or `sertool bench --out` JSON "
                                     "(its length set, the batches of --preset)")
    b.add_argument("--checkpoint", help="engine checkpoint to load (else random weights)")
    b.add_argument("--preset", default="small", choices=sorted(PRESETS))
    b.add_argument("--batch-sizes", default="8,16,32")
    b.add_argument("--distributions", default="lognormal,uniform")
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--repeats", type=int, default=10)
    b.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = PyTorch's default)")
    b.add_argument("--seed", type=int, default=7)
    b.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN convolutions and matmuls (PyTorch's conv default)")
    b.add_argument("--out", default="bench/results/pytorch")
    args = ap.parse_args()
    sys.exit(cmd_check(args) if args.command == "check" else cmd_bench(args))


if __name__ == "__main__":
    main()
