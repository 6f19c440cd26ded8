#!/usr/bin/env python3
"""The report of tests/bench/run-p11-bench.sh: reads DIR/samples.jsonl
(one line per p11_bench run) and writes DIR/results.txt, DIR/results.json
and DIR/latency.png (the latency-profile results).

For every latency, scenario and module: the median of the runs and their
spread (min-max); the APDUs the token received (median); the CPU time of
the harness process in the measured window (user + sys, every thread;
per signature for sigs-*); its peak RSS. Times are the window's wall time;
sigs-* give signatures per second. Ratios are kyso's time over the other's
(for sigs-*, time per signature): above 1 kyso is slower. The floor of
sigs-4 and sigs-16 is the raw 1-thread figure (a card signs one at a time).
"""
import json
import statistics
import sys
from pathlib import Path

DIR = Path(sys.argv[1])
MODULES = ["kyso-off", "kyso-file", "kyso-daemon", "opensc", "ykcs11", "raw"]
NAMES = {"kyso-off": "kyso, audit off", "kyso-file": "kyso, file sink", "kyso-daemon": "kyso, daemon sink",
         "opensc": "opensc-pkcs11.so", "ykcs11": "libykcs11.so", "raw": "raw PC/SC floor"}
SCENARIOS = ["cold", "cold-again", "sign-9c-rsa", "sign-9c-p256", "sign-9a", "sigs-1", "sigs-4", "sigs-16", "idle"]
LATENCIES = ["zero", "profile"]

samples = [json.loads(line) for line in (DIR / "samples.jsonl").read_text().splitlines() if line.strip()]
machine = (DIR / "machine.txt").read_text() if (DIR / "machine.txt").exists() else ""
profile = next((l.split("profile ")[1].split(" ms")[0] for l in machine.splitlines() if "profile " in l), "3 150")


def per_op_ms(s):
    """The figure compared: the window's ms, per signature for sigs-*."""
    return s["ms"] / s["ops"] if s["scenario"].startswith("sigs") else s["ms"]


def summarise(latency, scenario, module):
    runs = [s for s in samples if (s["latency"], s["scenario"], s["module"]) == (latency, scenario, module)]
    if not runs:
        return None
    good = [s for s in runs if s.get("ok")]
    row = {"latency": latency, "scenario": scenario, "module": module, "runs": len(runs), "ok_runs": len(good)}
    if not good:
        row["cannot"] = runs[0].get("why", "failed")
        return row
    med = statistics.median
    sig = scenario.startswith("sigs")
    t = [per_op_ms(s) for s in good]
    row.update({
        "apdus": med(s["apdus"] for s in good),
        "apdus_per_op": med(s["apdus"] / s["ops"] for s in good) if sig else None,
        "ms": med(t), "ms_min": min(t), "ms_max": max(t),
        "cpu_ms": med(s["cpu_ms"] / (s["ops"] if sig else 1) for s in good),
        "rss_kb": med(s["rss_kb"] for s in good),
    })
    if sig:
        rate = [1000 / x for x in t]
        row.update({"per_s": med(rate), "per_s_min": min(rate), "per_s_max": max(rate)})
    if len(good) < len(runs):
        row["failed_runs"] = [s.get("why", "failed") for s in runs if not s.get("ok")]
    return row


rows = [r for lat in LATENCIES for sc in SCENARIOS for m in MODULES if (r := summarise(lat, sc, m))]
index = {(r["latency"], r["scenario"], r["module"]): r for r in rows}


def ratio(r, other):
    if not r["module"].startswith("kyso") or "cannot" in r or r["scenario"] == "idle":
        return None
    scen = r["scenario"]
    if other == "raw" and scen in ("sigs-4", "sigs-16"):
        scen = "sigs-1"
    o = index.get((r["latency"], scen, other))
    if not o or "cannot" in o or not o["ms"]:
        return None
    return r["ms"] / o["ms"]


for r in rows:
    r["ratio_opensc"], r["ratio_ykcs11"], r["ratio_floor"] = (ratio(r, o) for o in ("opensc", "ykcs11", "raw"))


def fmt(x, digits=1):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}".replace(",", " ")


def figure(r):
    if "cannot" in r:
        return (r["cannot"] if r["cannot"].startswith("n/a") else "cannot: " + r["cannot"]), ""
    if r["scenario"].startswith("sigs"):
        d = 0 if r["per_s"] >= 100 else 2
        return f"{fmt(r['per_s'], d)} sig/s", f"{fmt(r['per_s_min'], d)}–{fmt(r['per_s_max'], d)}"
    if r["scenario"] == "idle":
        return f"{fmt(r['ms'] / 1000, 0)} s idle", ""
    return f"{fmt(r['ms'], 2)} ms", f"{fmt(r['ms_min'], 2)}–{fmt(r['ms_max'], 2)}"


lines = [
    "kyso-pkcs11.so beside opensc-pkcs11.so, libykcs11.so and the raw PC/SC floor on kyso-vtoken (PIV)",
    "",
    *("  " + l for l in machine.strip().splitlines()),
    "",
    "median of the runs (spread: min–max); APDUs: median (per signature for sigs-*); CPU: the harness",
    "process in the measured window, user+sys (per signature for sigs-*); RSS: peak of the process.",
    "×OpenSC, ×ykcs11, ×floor: kyso's time over theirs (per signature for sigs-*); > 1 = kyso slower.",
    "sigs-4/sigs-16 ×floor: over the raw 1-thread time (one card signs one thing at a time).",
]
for lat in LATENCIES:
    title = "zero token latency" if lat == "zero" else f"latency profile: {profile.split()[0]} ms per APDU, " \
        f"{profile.split()[1]} ms per private-key operation"
    lines += ["", f"== {title}", ""]
    hdr = f"{'scenario':<13} {'module':<18} {'APDUs':>7} {'median':>14} {'spread':>17} {'CPU ms':>8} " \
          f"{'RSS MB':>7} {'×OpenSC':>8} {'×ykcs11':>8} {'×floor':>7}"
    lines += [hdr, "-" * len(hdr)]
    for sc in SCENARIOS:
        for m in MODULES:
            r = index.get((lat, sc, m))
            if not r:
                continue
            med, spread = figure(r)
            if "cannot" in r:
                lines.append(f"{sc:<13} {NAMES[m]:<18} {med}")
                continue
            ap = fmt(r["apdus_per_op"], 1) if r["apdus_per_op"] is not None else fmt(r["apdus"], 0)
            lines.append(f"{sc:<13} {NAMES[m]:<18} {ap:>7} {med:>14} {spread:>17} {fmt(r['cpu_ms'], 2):>8} "
                         f"{fmt(r['rss_kb'] / 1024, 1):>7} {fmt(r['ratio_opensc'], 2):>8} "
                         f"{fmt(r['ratio_ykcs11'], 2):>8} {fmt(r['ratio_floor'], 2):>7}")
        lines.append("")
(DIR / "results.txt").write_text("\n".join(lines).rstrip() + "\n")
(DIR / "results.json").write_text(json.dumps({"machine": machine.strip().splitlines(), "rows": rows}, indent=1,
                                             ensure_ascii=False) + "\n")

# The plot: the latency profile, time per scenario and APDUs, every module.
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plot_sc = [s for s in SCENARIOS if s != "idle" and any(("profile", s, m) in index for m in MODULES)]
fig, (ax_t, ax_a) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
width = 0.8 / len(MODULES)
for i, m in enumerate(MODULES):
    xs, ts, lo, hi, aps = [], [], [], [], []
    for j, s in enumerate(plot_sc):
        r = index.get(("profile", s, m))
        if not r or "cannot" in r:
            continue
        xs.append(j + (i - (len(MODULES) - 1) / 2) * width)
        ts.append(r["ms"])
        lo.append(r["ms"] - r["ms_min"])
        hi.append(r["ms_max"] - r["ms"])
        aps.append(r["apdus_per_op"] if r["apdus_per_op"] is not None else r["apdus"])
    ax_t.bar(xs, ts, width, yerr=[lo, hi], capsize=2, label=NAMES[m])
    ax_a.bar(xs, aps, width, label=NAMES[m])
ax_t.set_ylabel("ms (sigs-*: per signature)")
ax_t.set_title(f"Latency profile ({profile.split()[0]} ms per APDU, {profile.split()[1]} ms per private-key "
               "operation): median, min–max")
ax_t.legend(fontsize=8, ncol=3)
ax_a.set_ylabel("APDUs (sigs-*: per signature)")
ax_a.set_xticks(range(len(plot_sc)))
ax_a.set_xticklabels(plot_sc)
for ax in (ax_t, ax_a):
    ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
fig.savefig(DIR / "latency.png", dpi=100)
