#!/usr/bin/env python3
"""Applies the one-line mutations of mutations.tsv one at a time, runs the tests that should catch each, and reports
which tests failed (killed) or that none did (survived). The source file is restored after every mutation, also on
Ctrl-C; the test binaries are rebuilt from the clean sources at the end.

Usage (from anywhere in the repository):
  tools/mutation/apply-mutations.py                 # every mutation
  tools/mutation/apply-mutations.py ID [ID ...]     # only these ids
  tools/mutation/apply-mutations.py --skip-prefix src/Ser.Engine/Experiments/   # all but those files
Options: --report PATH (markdown report, default bench/results/mutation/apply-mutations.md), --timeout SECONDS per
test run (default 900). Needs a built tree (dotnet build Ser.sln -c Debug). Exit code 0 when every mutation run was
killed, 1 when one survived or did not apply (stale line, build error).
"""
import argparse, os, re, signal, subprocess, sys, time
from collections import OrderedDict

ROOT = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                      cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
TABLE = os.path.join(ROOT, "tools/mutation/mutations.tsv")


def load():
    mutations = OrderedDict()
    for n, line in enumerate(open(TABLE, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 4:
            sys.exit(f"{TABLE}:{n}: expected at least 4 tab-separated columns, got {len(cols)}")
        cols += [""] * (7 - len(cols))
        mid, path, find, replace, project, filt, what = cols[:7]
        m = mutations.setdefault(mid, {"id": mid, "edits": [], "project": project, "filter": filt, "what": what, "line": n})
        m["edits"].append((path, find, replace))
        m["project"] = m["project"] or project
        m["filter"] = m["filter"] or filt
        m["what"] = m["what"] or what
    return list(mutations.values())


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        return "timeout", (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")


def build(project, timeout):
    return run(["dotnet", "build", project, "-c", "Debug", "-v", "q", "-nologo", "-clp:ErrorsOnly"], timeout)


def test_exe(project):
    name = os.path.basename(project.rstrip("/"))
    return os.path.join(ROOT, project, "bin", "Debug", "net10.0", name)


def failed_tests(output):
    return sorted(set(re.findall(r"^\s*(\S+(?:\(.*?\))?) \[FAIL\]", re.sub(r"\x1b\[[0-9;]*m", "", output), re.M)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--skip-prefix", action="append", default=[])
    ap.add_argument("--report", default=os.path.join(ROOT, "bench/results/mutation/apply-mutations.md"))
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()

    mutations = [m for m in load() if (not args.ids or m["id"] in args.ids)
                 and not any(p.startswith(s) for p, _, _ in m["edits"] for s in args.skip_prefix)]
    originals = {}

    def restore(*_):
        for path, text in originals.items():
            with open(os.path.join(ROOT, path), "w", encoding="utf-8", newline="") as f:
                f.write(text)
        originals.clear()

    def interrupted(sig, frame):
        restore()
        sys.exit(130)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    results = []
    projects = set()
    for m in mutations:
        start = time.time()
        status, caught, note = None, [], ""
        try:
            for path, find, replace in m["edits"]:
                full = os.path.join(ROOT, path)
                text = originals.get(path) or open(full, encoding="utf-8", newline="").read()
                originals.setdefault(path, text)
                current = open(full, encoding="utf-8", newline="").read()
                count = current.count(find)
                if count != 1:
                    status, note = "STALE", f"'{find[:60]}' occurs {count} times in {path}"
                    break
                with open(full, "w", encoding="utf-8", newline="") as f:
                    f.write(current.replace(find, replace))
            if status is None:
                projects.add(m["project"])
                code, out = build(m["project"], args.timeout)
                if code != 0:
                    status, note = "BUILD-ERROR", " ".join(l.strip() for l in out.splitlines() if "error" in l)[:300]
                else:
                    code, out = run([test_exe(m["project"])] + m["filter"].split(), args.timeout)
                    caught = failed_tests(out)
                    total = re.findall(r"Total: (\d+), Errors: (\d+), Failed: (\d+), Skipped: (\d+)", out)
                    note = f"{total[-1][0]} tests run, {total[-1][2]} failed, {total[-1][3]} skipped" if total else out[-300:]
                    status = "TIMEOUT" if code == "timeout" else ("KILLED" if code != 0 else "SURVIVED")
        finally:
            restore()
        seconds = time.time() - start
        results.append((m, status, caught, note, seconds))
        print(f"{status:11} {m['id']:22} {seconds:6.0f} s  {m['what']}", flush=True)
        for t in caught:
            print(f"            caught by {t}", flush=True)
        if note and status != "KILLED":
            print(f"            {note}", flush=True)

    # Leave the binaries built from the clean sources.
    for project in sorted(projects):
        build(project, args.timeout)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    os.makedirs(os.path.dirname(args.report), exist_ok=True)
    with open(args.report, "w", encoding="utf-8") as f:
        f.write(f"# Mutations applied one at a time (tools/mutation/apply-mutations.py)\n\n")
        f.write(f"Commit {commit}, {time.strftime('%Y-%m-%d %H:%M')}, command: `{' '.join(['tools/mutation/apply-mutations.py'] + sys.argv[1:])}`\n\n")
        f.write("| id | mutation | status | tests that failed | run |\n|---|---|---|---|---|\n")
        for m, status, caught, note, seconds in results:
            where = ", ".join(sorted({p for p, _, _ in m["edits"]}))
            tests = "<br>".join(f"`{t}`" for t in caught) if caught else note.replace("|", "/")
            f.write(f"| {m['id']} | {m['what']} ({where}) | {status} | {tests} | {seconds:.0f} s |\n")
    print(f"report: {os.path.relpath(args.report, ROOT)}")
    return 0 if all(s in ("KILLED", "TIMEOUT") for _, s, _, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
