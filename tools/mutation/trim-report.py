#!/usr/bin/env python3
"""Shrinks a Stryker.NET report folder (mutation-report.json and the html that embeds the same report) before it is
committed: drops the mutants Stryker ignored because they lie outside the scope ("Removed by mutate filter": every
mutant of a partly mutated file outside its span) and the test files' sources (their test names and locations stay),
and numbers the tests (t1, t2, ...) instead of repeating their 64-digit hash ids in every mutant's coveredBy/killedBy.
Scores are unchanged: ignored mutants do not count. Usage: trim-report.py bench/results/mutation/stryker-<scope>"""
import json
import sys
from pathlib import Path


def trim(report):
    for entry in report["files"].values():
        entry["mutants"] = [m for m in entry["mutants"]
                            if not (m["status"] == "Ignored" and "mutate filter" in m.get("statusReason", ""))]
    for entry in report.get("testFiles", {}).values():
        entry.pop("source", None)
    # Test ids are 64-hex-digit hashes, repeated in every mutant's coveredBy/killedBy: number them instead (t1, t2 ...).
    short = {}
    for entry in report.get("testFiles", {}).values():
        for test in entry.get("tests", []):
            test["id"] = short.setdefault(test["id"], f"t{len(short) + 1}")
    for entry in report["files"].values():
        for m in entry["mutants"]:
            for key in ("coveredBy", "killedBy"):
                if m.get(key):
                    m[key] = [short.setdefault(i, f"t{len(short) + 1}") for i in m[key]]
    return report


def main(folder):
    folder = Path(folder)
    js = folder / "mutation-report.json"
    report = trim(json.loads(js.read_text(encoding="utf-8")))
    js.write_text(json.dumps(report, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    html = folder / "mutation-report.html"
    if html.exists():
        text = html.read_text(encoding="utf-8")
        marker = "app.report = "
        start = text.index(marker) + len(marker)
        _, end = json.JSONDecoder().raw_decode(text, start)     # the embedded report ends where its JSON ends
        text = text[:start] + json.dumps(report, ensure_ascii=False, separators=(",", ":")) + text[end:]
        html.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
