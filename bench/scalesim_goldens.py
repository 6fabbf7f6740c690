"""Golden SCALE-Sim 3.0.0 reports for accelsim's cross-check tests.

SCALE-Sim is not a dependency of accelsim and is not installed in CI: this script runs it
once, offline, and stores its small report CSVs under ``tests/data/scalesim/`` for the tests
to read.

    python bench/scalesim_goldens.py [--venv DIR] [--out tests/data/scalesim]
                                     [--dataflows ws,os,is] [--timing-repeats 1]
                                     [--docs-only]

What it does:

1. Creates (or reuses) a separate virtual environment, ``.venv-scalesim/`` at the repo root by
   default (git-ignored), with ``python -m venv``, and installs ``scalesim==3.0.0`` and
   ``numpy<2`` (SCALE-Sim 3.0.0 crashes with numpy 2) into it with that venv's pip. An existing
   venv that already has both at the right versions is reused as is.
2. For each dataflow (ws, os, is) writes the exact inputs into ``OUT/<dataflow>/``:
   ``scale.cfg`` (SCALE-Sim's default 32x32 architecture, which accelsim's
   ``scalesim-32x32-ws`` preset models: 32x32 array, 64 kB ifmap/filter/ofmap SRAMs,
   offsets 0 / 10,000,000 / 20,000,000, 10 words/cycle DRAM in USER bandwidth mode,
   request buffers 32, custom layouts off, sparsity off, no Ramulator), ``topology.csv``
   (the layers in ``LAYERS`` below, conv format) and ``layout.csv`` (must exist; unused
   because custom layouts are off), then runs::

       <venv>/bin/python -m scalesim.scale -c scale.cfg -t topology.csv -l layout.csv \
           -p <tmpdir> -s N

   through a thin wrapper (``runpy`` on ``scalesim.scale``, the same code path) that times
   each layer. SCALE-Sim 3.0.0's CLI parses ``-s N`` but ignores it and always writes the
   per-cycle SRAM/DRAM trace CSVs (hundreds of MB); they are written to a temporary
   directory and deleted. Only COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and
   DETAILED_ACCESS_REPORT.csv are copied into ``OUT/<dataflow>/``.
3. Times a stand-alone run of ``conv_58x58_c64_k64`` in ws (plain ``python -m
   scalesim.scale`` on a one-layer topology, wall seconds of the whole process, venv creation
   excluded) and writes it, with the per-layer times of step 2, to ``OUT/timings.json``.
4. Checks every layer against the closed forms derived from SCALE-Sim's source
   (``compute/systolic_compute_{ws,os,is}.py``): compute cycles = Total Cycles - Stall Cycles
   = folds * (per-fold lines) - 1 and the SRAM access counts, writes ``OUT/summary.json``
   (all numbers, machine-readable) and ``OUT/README.md`` (how the data was produced, what
   each column means, the tables). Exits with status 1 if a closed form does not match.

Needs network access to PyPI only when the venv has to be created. Takes a few minutes on
two cores (the 58x58 layer dominates).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCALESIM_VERSION = "3.0.0"
NUMPY_SPEC = "numpy<2"
DATAFLOWS = ("ws", "os", "is")
TIMED_LAYER = "conv_58x58_c64_k64"

# Architecture: SCALE-Sim's default 32x32 config (scale-sim-v3 configs/scale.cfg) with the
# sections 3.0.0 requires. InterfaceBandwidth USER so that the 10 words/cycle DRAM is modelled
# (in CALC mode SCALE-Sim ignores Bandwidth and never stalls on reads). In USER mode 3.0.0
# takes the ifmap and filter DRAM bandwidth from [layout] IfmapSRAMBankBandwidth /
# FilterSRAMBankBandwidth and only the ofmap (write) bandwidth from Bandwidth: all three are 10.
ARRAY_ROWS = 32
ARRAY_COLS = 32
SRAM_KB = 64
BANDWIDTH = 10
CONFIG_TEMPLATE = """\
[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   {sram_kb}
FilterSramSzkB:  {sram_kb}
OfmapSramSzkB:   {sram_kb}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : {bw}
Dataflow : {dataflow}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {bw}
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {bw}
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""

# Layers: SCALE-Sim takes the (already padded) input, no batch. All inputs here are
# unpadded ("valid" convolutions): output = (H - F) / stride + 1.
LAYERS = [
    dict(name="conv1_3x3_c3_k64", h=32, w=32, fh=3, fw=3, c=3, k=64, stride=1,
         note="32x32x3 input, no padding (30x30 output); hardware.md: 1987 ws cycles"),
    dict(name="conv2_3x3_c64_k64", h=32, w=32, fh=3, fw=3, c=64, k=64, stride=1,
         note="32x32x64 input, no padding (30x30 output, T = 900); hardware.md: 35,783"),
    dict(name="fc_784_300", h=1, w=1, fh=1, fw=1, c=784, k=300, stride=1,
         note="FC 784 -> 300 as a 1x1 conv on a 1x1x784 input; hardware.md: 23,749"),
    dict(name="conv_58x58_c64_k64", h=58, w=58, fh=3, fw=3, c=64, k=64, stride=1,
         note="benchmark layer: 56x56x64 padded to 58x58 (56x56 output)"),
    dict(name="conv_s2_3x3_c32_k64", h=33, w=33, fh=3, fw=3, c=32, k=64, stride=2,
         note="stride 2: 33x33x32 -> 16x16x64 (33 so floor and SCALE-Sim's ceil agree)"),
    dict(name="conv_3x3_c32_k16", h=16, w=16, fh=3, fw=3, c=32, k=16, stride=1,
         note="few filters: 16 of 32 array columns used (14x14 output)"),
    dict(name="conv_3x3_c256_k128_8x8", h=8, w=8, fh=3, fw=3, c=256, k=128, stride=1,
         note="many channels: 8x8x256 -> 6x6x128"),
    dict(name="conv_1x1_c128_k256_14x14", h=14, w=14, fh=1, fw=1, c=128, k=256, stride=1,
         note="wide GEMM-like 1x1 conv: 14x14x128 -> 14x14x256"),
]

TOPOLOGY_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                   "Channels, Num Filter, Stride,")
# layout_utils.py reads columns 1..20 as ints. Intraline factors 1 and identity orders
# (the default row-major layouts); the values are not used while custom layouts are off.
LAYOUT_HEADER = (
    "Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, "
    "Filter Height Intraline Factor, Filter Width Intraline Factor, Channel Intraline Factor, "
    "Num Filter Intraline Factor, IFMAP Height Intraline Order, IFMAP Width Intraline Order, "
    "Channel Intraline Order, IFMAP Height Interline Order, IFMAP Width Interline Order, "
    "Channel Interline Order, Num Filter Intraline Order, Channel Intraline Order, "
    "Filter Height Intraline Order, Filter Width Intraline Order, Num Filter Interline Order, "
    "Channel Interline Order, Filter Height Interline Order, Filter Width Interline Order,")
LAYOUT_VALUES = "1, 1, 1, 1, 1, 1, 3, 4, 5, 0, 1, 2, 4, 5, 6, 7, 0, 1, 2, 3"
REPORTS = ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")

# Runs scalesim.scale exactly as `python -m scalesim.scale ARGS` would, timing each layer.
TIMING_WRAPPER = r'''
import json, os, runpy, sys, time
from scalesim import single_layer_sim as _sls

_cls = _sls.single_layer_sim
_rec = {}

def _wrap(name):
    orig = getattr(_cls, name)
    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return orig(self, *args, **kwargs)
        finally:
            entry = _rec.setdefault(str(self.layer_id), {})
            entry[name + "_s"] = entry.get(name + "_s", 0.0) + time.perf_counter() - start
    setattr(_cls, name, timed)

for _name in ("run", "calc_report_data", "save_traces"):
    _wrap(_name)

_start = time.perf_counter()
try:
    runpy.run_module("scalesim.scale", run_name="__main__", alter_sys=True)
finally:
    with open(os.environ["SCALESIM_GOLDENS_TIMING"], "w") as f:
        json.dump({"in_process_s": time.perf_counter() - _start, "layers": _rec}, f)
'''


# ----------------------------------------------------------------------------- venv


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def installed_versions(py: Path) -> dict:
    code = ("import importlib.metadata as m, json\n"
            "out = {}\n"
            "for n in ('scalesim', 'numpy'):\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))")
    res = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def ensure_venv(venv: Path) -> tuple[Path, dict]:
    py = venv_python(venv)
    if not py.exists():
        print(f"creating venv {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    versions = installed_versions(py)
    numpy_ok = versions["numpy"] is not None and int(versions["numpy"].split(".")[0]) < 2
    if versions["scalesim"] != SCALESIM_VERSION or not numpy_ok:
        print(f"installing scalesim=={SCALESIM_VERSION} and {NUMPY_SPEC} into {venv}", flush=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet",
                        f"scalesim=={SCALESIM_VERSION}", NUMPY_SPEC], check=True)
        versions = installed_versions(py)
    if versions["scalesim"] != SCALESIM_VERSION:
        sys.exit(f"venv {venv} has scalesim {versions['scalesim']}, need {SCALESIM_VERSION}")
    return py, versions


# ----------------------------------------------------------------------------- inputs


def write_inputs(dest: Path, dataflow: str, layers: list[dict]) -> dict[str, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    cfg = dest / "scale.cfg"
    cfg.write_text(CONFIG_TEMPLATE.format(
        run_name=f"accelsim_goldens_32x32_{dataflow}", rows=ARRAY_ROWS, cols=ARRAY_COLS,
        sram_kb=SRAM_KB, bw=BANDWIDTH, dataflow=dataflow))
    topo = dest / "topology.csv"
    topo.write_text("\n".join(
        [TOPOLOGY_HEADER]
        + [f"{L['name']}, {L['h']}, {L['w']}, {L['fh']}, {L['fw']}, {L['c']}, {L['k']}, "
           f"{L['stride']}," for L in layers]) + "\n")
    layout = dest / "layout.csv"
    layout.write_text("\n".join(
        [LAYOUT_HEADER] + [f"{L['name']}, {LAYOUT_VALUES}," for L in layers]) + "\n")
    return {"cfg": cfg, "topo": topo, "layout": layout}


# ----------------------------------------------------------------------------- running


def run_child(argv: list[str], log: Path, env: dict | None = None, cwd: Path | None = None):
    """Run argv with output to log; return (wall seconds, peak RSS in MB)."""
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text()[-4000:]
        sys.exit(f"SCALE-Sim failed ({proc.returncode}): {' '.join(argv)}\n{tail}")
    rss_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return wall, rss_mb


def run_scalesim(py: Path, inputs: dict[str, Path], dataflow: str, dest: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"scalesim-{dataflow}-") as tmp:
        tmp = Path(tmp)
        wrapper = tmp / "timed_scale.py"
        wrapper.write_text(TIMING_WRAPPER)
        timing_file = tmp / "timing.json"
        argv = [str(py), str(wrapper), "-c", str(inputs["cfg"].resolve()),
                "-t", str(inputs["topo"].resolve()), "-l", str(inputs["layout"].resolve()),
                "-p", str(tmp / "out"), "-s", "N"]
        env = dict(os.environ, SCALESIM_GOLDENS_TIMING=str(timing_file))
        print(f"[{dataflow}] running SCALE-Sim on {len(LAYERS)} layers ...", flush=True)
        wall, rss = run_child(argv, tmp / "scalesim.log", env=env, cwd=tmp)
        run_dir = tmp / "out" / f"accelsim_goldens_32x32_{dataflow}"
        for name in REPORTS:
            shutil.copyfile(run_dir / name, dest / name)
        timing = json.loads(timing_file.read_text())
        trace_bytes = sum(p.stat().st_size for p in run_dir.rglob("*_TRACE.csv"))
    print(f"[{dataflow}] done in {wall:.1f} s (traces written and deleted: "
          f"{trace_bytes / 2**20:.0f} MB)", flush=True)
    per_layer = {}
    for i, layer in enumerate(LAYERS):
        t = timing["layers"].get(str(i), {})
        per_layer[layer["name"]] = {
            "simulate_s": round(t.get("run_s", 0.0), 3),
            "report_s": round(t.get("calc_report_data_s", 0.0), 3),
            "trace_save_s": round(t.get("save_traces_s", 0.0), 3),
            "total_s": round(sum(t.values()), 3),
        }
    return {"process_wall_s": round(wall, 3), "peak_rss_mb": round(rss, 1),
            "trace_bytes_deleted": trace_bytes, "layers": per_layer}


def standalone_timing(py: Path, repeats: int) -> dict:
    layer = next(L for L in LAYERS if L["name"] == TIMED_LAYER)
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="scalesim-timing-") as tmp:
            tmp = Path(tmp)
            inputs = write_inputs(tmp / "in", "ws", [layer])
            argv = [str(py), "-m", "scalesim.scale", "-c", str(inputs["cfg"]),
                    "-t", str(inputs["topo"]), "-l", str(inputs["layout"]),
                    "-p", str(tmp / "out")]
            print(f"[timing] {TIMED_LAYER} ws stand-alone ...", flush=True)
            wall, rss = run_child(argv, tmp / "scalesim.log", cwd=tmp)
            print(f"[timing] {wall:.1f} s, peak RSS {rss:.0f} MB", flush=True)
            runs.append({"wall_s": round(wall, 3), "peak_rss_mb": round(rss, 1)})
    return {
        "layer": TIMED_LAYER, "dataflow": "ws",
        "command": "<venv>/bin/python -m scalesim.scale -c scale.cfg -t topology.csv "
                   "-l layout.csv -p OUTDIR   (topology.csv holding only this layer)",
        "what": "wall seconds of the whole SCALE-Sim process (interpreter start, simulation, "
                "reports, per-cycle trace CSVs - which 3.0.0 always writes); venv creation "
                "excluded",
        "runs": runs,
        "wall_s": min(r["wall_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }


# ----------------------------------------------------------------------------- analysis


def read_report(path: Path) -> list[dict]:
    with open(path) as f:
        rows = [[c.strip() for c in row] for row in csv.reader(f)]
    header = [h for h in rows[0] if h]
    out = []
    for row in rows[1:]:
        if not any(row):
            continue
        out.append({h: float(v) for h, v in zip(header, row, strict=False) if v != ""})
    return out


def layer_dims(L: dict) -> dict:
    # SCALE-Sim (topology_utils.py): ofmap = ceil((H - F + S) / S)
    oh = math.ceil((L["h"] - L["fh"] + L["stride"]) / L["stride"])
    ow = math.ceil((L["w"] - L["fw"] + L["stride"]) / L["stride"])
    return {"ofmap_h": oh, "ofmap_w": ow, "ofmap_px": oh * ow,
            "window": L["fh"] * L["fw"] * L["c"],
            "compulsory_ifmap_bytes": L["h"] * L["w"] * L["c"],
            "compulsory_filter_bytes": L["fh"] * L["fw"] * L["c"] * L["k"],
            "compulsory_ofmap_bytes": oh * ow * L["k"],
            "macs": oh * ow * L["fh"] * L["fw"] * L["c"] * L["k"]}


def closed_form(dataflow: str, L: dict, R: int = ARRAY_ROWS, C: int = ARRAY_COLS) -> dict:
    """Compute cycles and SRAM access counts as SCALE-Sim 3.0.0's compute models build them."""
    d = layer_dims(L)
    npx, win, k = d["ofmap_px"], d["window"], L["k"]
    if dataflow == "ws":      # weights stationary: rows = window, cols = filters, time = pixels
        sr, sc, t = win, k, npx
        per_fold = 2 * R + C + t - 2
    elif dataflow == "os":    # outputs stationary: rows = pixels, cols = filters, time = window
        sr, sc, t = npx, k, win
        per_fold = R + C + t - 2
    else:                     # inputs stationary: rows = window, cols = pixels, time = filters
        sr, sc, t = win, npx, k
        per_fold = 2 * R + C + t - 2
    row_folds, col_folds = math.ceil(sr / R), math.ceil(sc / C)
    folds = row_folds * col_folds
    if dataflow == "ws":
        sram = {"ifmap": t * sr * col_folds, "filter": sr * sc, "ofmap": t * sc * row_folds}
    elif dataflow == "os":
        # systolic_compute_os.create_ofmap_demand_mat adds rows*cols of each fold and then,
        # after padding the fold to R x C, adds R + C again (a counting slip in 3.0.0).
        sram = {"ifmap": t * sr * col_folds, "filter": t * sc * row_folds,
                "ofmap": sr * sc + folds * (R + C)}
    else:
        sram = {"ifmap": sr * sc, "filter": t * sr * col_folds, "ofmap": t * sc * row_folds}
    return {"Sr": sr, "Sc": sc, "T": t, "row_folds": row_folds, "col_folds": col_folds,
            "folds": folds, "lines_per_fold": per_fold,
            "compute_cycles": folds * per_fold - 1,
            "sram_ifmap_reads": sram["ifmap"], "sram_filter_reads": sram["filter"],
            "sram_ofmap_writes": sram["ofmap"]}


def prefetch_elems(dataflow: str, L: dict, R: int = ARRAY_ROWS, C: int = ARRAY_COLS) -> dict:
    """Size of the DRAM->SRAM prefetch ("fetch") matrices SCALE-Sim builds, -1 pads included."""
    d = layer_dims(L)
    npx, win, k = d["ofmap_px"], d["window"], L["k"]
    if dataflow == "ws":
        # filter: each column fold's window x C block (filters padded to C); ifmap: the
        # im2col matrix (pixels x window), window padded to a multiple of R.
        filt = win * C * math.ceil(k / C)
        ifm = npx * R * math.ceil(win / R)
    elif dataflow == "os":
        filt = win * C * math.ceil(k / C)
        ifm = win * R * math.ceil(npx / R)
    else:
        filt = k * R * math.ceil(win / R)
        ifm = win * C * math.ceil(npx / C)
    return {"ifmap_fetch_elems": ifm, "filter_fetch_elems": filt}


def expected_min_dram_reads(fetch_elems: int, bw: int = BANDWIDTH, kb: int = SRAM_KB) -> int:
    """DRAM reads SCALE-Sim reports if every fetched word is used before it is evicted.

    read_buffer.py: the fetch matrix is cut into lines of `bw` words (partly filled last line
    padded); the first prefetch fills the active half (ceil(active/bw) lines, or the whole
    matrix if smaller); every later one fetches ceil(half/bw) lines. Every line counts bw words.
    """
    half = kb * 1024 // 2
    lines = math.ceil(fetch_elems / bw)
    per_prefetch = math.ceil(half / bw)
    if lines <= per_prefetch:
        return lines * bw
    return per_prefetch * bw * (1 + math.ceil((lines - per_prefetch) / per_prefetch))


def analyse(out: Path, dataflows: list[str]) -> tuple[dict, list[str]]:
    results, problems = {}, []
    for df in dataflows:
        comp = read_report(out / df / "COMPUTE_REPORT.csv")
        det = read_report(out / df / "DETAILED_ACCESS_REPORT.csv")
        bw = read_report(out / df / "BANDWIDTH_REPORT.csv")
        results[df] = {}
        for i, L in enumerate(LAYERS):
            c, d, b = comp[i], det[i], bw[i]
            cf = closed_form(df, L)
            dims = layer_dims(L)
            pf = prefetch_elems(df, L)
            total, stall = int(c["Total Cycles"]), int(c["Stall Cycles"])
            r = {
                "layer_id": i,
                "total_cycles_incl_prefetch": int(c["Total Cycles (incl. prefetch)"]),
                "total_cycles": total,
                "stall_cycles": stall,
                "compute_cycles": total - stall,
                "closed_form": cf,
                "overall_util_pct": c["Overall Util %"],
                "mapping_efficiency_pct": c["Mapping Efficiency %"],
                "compute_util_pct": c["Compute Util %"],
                "sram_ifmap_reads": int(d["SRAM IFMAP Reads"]),
                "sram_filter_reads": int(d["SRAM Filter Reads"]),
                "sram_ofmap_writes": int(d["SRAM OFMAP Writes"]),
                "dram_ifmap_reads": int(d["DRAM IFMAP Reads"]),
                "dram_filter_reads": int(d["DRAM Filter Reads"]),
                "dram_ofmap_writes": int(d["DRAM OFMAP Writes"]),
                "avg_dram_bw": {"ifmap": b["Avg IFMAP DRAM BW"], "filter": b["Avg FILTER DRAM BW"],
                                "ofmap": b["Avg OFMAP DRAM BW"]},
                **{key: dims[key] for key in ("compulsory_ifmap_bytes", "compulsory_filter_bytes",
                                              "compulsory_ofmap_bytes", "macs")},
                **pf,
                "filter_min_dram_reads": expected_min_dram_reads(pf["filter_fetch_elems"]),
                "ifmap_min_dram_reads": expected_min_dram_reads(pf["ifmap_fetch_elems"]),
            }
            results[df][L["name"]] = r
            for key, got in (("compute_cycles", r["compute_cycles"]),
                             ("sram_ifmap_reads", r["sram_ifmap_reads"]),
                             ("sram_filter_reads", r["sram_filter_reads"]),
                             ("sram_ofmap_writes", r["sram_ofmap_writes"])):
                if got != cf[key]:
                    problems.append(f"{df} {L['name']}: {key} = {got}, closed form {cf[key]}")
    return results, problems


# ----------------------------------------------------------------------------- README


COLUMN_DOCS = {
    "COMPUTE_REPORT.csv": [
        ("Total Cycles (incl. prefetch)",
         "`int(DRAM OFMAP Stop Cycle - min(DRAM IFMAP Start Cycle, DRAM Filter Start Cycle))`: "
         "from the first DRAM prefetch (negative cycles, before the array starts) to the last "
         "ofmap DRAM write (after the array ends)."),
        ("Total Cycles",
         "cycle at which the array's last demand line (one line per array cycle) is served, "
         "stalls included (`double_buffered_scratchpad.service_memory_requests`: "
         "`max(ofmap serviced cycles)`). SCALE-Sim's verbose stdout calls this 'Compute "
         "cycles'."),
        ("Stall Cycles",
         "sum over demand lines of `max(ifmap stall, filter stall, ofmap stall)`. A read "
         "stalls when its address is not in the active half of the double-buffered SRAM and "
         "the next prefetch has to finish first (`read_buffer.service_reads`; 3.0.0 adds a "
         "positive wait d to the line's offset twice, and a negative one - prefetch already "
         "done - once, lowering it). A write stalls when the ofmap buffer is full and waits "
         "for its drain to DRAM (`write_buffer.service_writes`)."),
        ("Overall Util %",
         "`100 * MACs / (Total Cycles * 32 * 32)`, MACs = ofmap pixels * filters * window."),
        ("Mapping Efficiency %",
         "mean over folds of the fraction of the 32x32 PEs that hold a mapped operand."),
        ("Compute Util %",
         "mean over folds of `used PEs * T / (1024 * (fold lines + 32 - 1))`."),
    ],
    "DETAILED_ACCESS_REPORT.csv": [
        ("SRAM IFMAP/Filter/OFMAP Start/Stop Cycle",
         "first / last (stall-shifted) cycle in which the array issued a demand for that "
         "operand."),
        ("SRAM IFMAP Reads, SRAM Filter Reads, SRAM OFMAP Writes",
         "demands the array makes on the SRAM, counted in `systolic_compute_<df>.py` (closed "
         "forms above): im2col duplicates and per-fold re-reads included, padding slots "
         "excluded."),
        ("DRAM IFMAP/Filter Start/Stop Cycle",
         "first / last cycle of a DRAM->SRAM prefetch line (negative = before the array "
         "starts)."),
        ("DRAM IFMAP Reads, DRAM Filter Reads",
         "words requested from DRAM by the read buffers (`read_buffer.num_access`): **not "
         "compulsory traffic**, see below."),
        ("DRAM OFMAP Start/Stop Cycle, DRAM OFMAP Writes",
         "ofmap SRAM -> DRAM drains (`write_buffer.num_access`). Every fold's outputs are "
         "written, so ws and is write every output once per row fold (partial sums; about "
         "SRAM OFMAP Writes), os writes each output once (= ofmap size). Write lines of 10 "
         "words flushed part-full in mid-stream count all 10 words (hence e.g. +21 in ws "
         "`conv2_3x3_c64_k64`)."),
    ],
}

README_DRAM = """\
## How SCALE-Sim counts DRAM reads (USER bandwidth mode, `memory/read_buffer.py`)

* Each operand has a *fetch matrix* built by the compute model (`prefetch_elems` in
  `bench/scalesim_goldens.py` gives its size). ws: filter = for each column fold, the
  window x 32 block of the filter matrix (filters padded with -1 to a multiple of 32), so each
  weight appears once, plus the pads of the last column fold; ifmap = the im2col matrix (ofmap
  pixels x window, window padded to a multiple of 32) with every duplicate of an input pixel,
  unrolled diagonally. os: filter as in ws (diagonal), ifmap = im2col transposed with pixels
  padded to a multiple of 32. is: filter = K x 32 per row fold (window padded), ifmap =
  im2col with pixels padded to a multiple of 32.
* The fetch matrix is cut into lines of `IfmapSRAMBankBandwidth` / `FilterSRAMBankBandwidth`
  (= 10) words; the partly filled last line is padded. The first prefetch fills the active
  half of the SRAM (32 kB -> 3277 lines = 32,770 words, or the whole matrix if smaller);
  every later prefetch (issued on a miss) fetches another 3277 lines and **counts 32,770
  words whether or not they hold data**, wrapping round to the start of the fetch matrix
  when it runs past the end. A line takes one cycle at 10 words/cycle, so a 32 kB prefetch
  costs 3278 cycles. The 'min' column above is this count for one pass over the matrix.
* The SRAM is searched in sets of ceil(65536/100) = 656 valid words; a prefetch slides the
  active window by 50 sets. A demand that falls behind the window (already evicted) is only
  found after the window has wrapped all the way round the fetch matrix, re-reading it.
  In ws this is triggered by the filter demands of each fold being issued bottom row first
  (`np.flip` in `create_filter_demand_mat`): a fold that straddles a prefetch boundary evicts
  the start of its own block. Checked by rerunning with that flip replaced by the identity:
  ws `fc_784_300` then reports 262,160 DRAM filter reads (= min) and 1,200 stall cycles
  instead of 2,130,050 and 190,196; `conv_3x3_c256_k128_8x8` 294,930 and 38,868 instead of
  2,654,370 and 228,960. In is the filter is demanded again for every column (pixel) fold,
  so it is streamed many times over and wraps a lot (`conv_58x58_c64_k64`: 25.9 M words for
  36,864 weights).
* So DRAM filter reads equal the compulsory filter bytes only when the filter fetch matrix
  fits in the first prefetch, has no column padding and is a multiple of 10 words.
  Otherwise add the last column fold's padding, round up to whole 10-word lines, then to
  whole 32,770-word prefetches, then multiply by the number of wrap-arounds. DRAM ifmap
  reads in addition count every im2col duplicate.
"""


def column_docs() -> list[str]:
    lines = [
        "## Columns (from the CSV headers and SCALE-Sim 3.0.0's source)",
        "",
        "All counts are in words; SCALE-Sim's word is fixed at 1 byte (`single_layer_sim.py`: "
        "`word_size = 1`), so words = bytes. Every CSV row ends with a trailing comma; "
        "`LayerID` is the row index in `topology.csv` (0-based).",
        "",
    ]
    for report, rows in COLUMN_DOCS.items():
        lines += [f"**{report}**", "", "| column | meaning |", "|---|---|"]
        lines += [f"| {col} | {meaning} |" for col, meaning in rows]
        lines.append("")
        if report == "COMPUTE_REPORT.csv":
            lines += [
                "Compute cycles = Total Cycles - Stall Cycles = number of demand lines - 1 (see "
                "the closed forms above).",
                "",
                "**BANDWIDTH_REPORT.csv**: `Avg <op> SRAM BW` = SRAM accesses of that operand / "
                "Total Cycles; `Avg <op> DRAM BW` = DRAM accesses / (DRAM stop cycle - DRAM "
                "start cycle + 1); words/cycle.",
                "",
            ]
    return lines


def fmt(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def write_readme(out: Path, results: dict, versions: dict, timings: dict, dataflows: list[str],
                 problems: list[str], command: str) -> None:
    lines = [
        "# SCALE-Sim 3.0.0 golden reports",
        "",
        "Produced by `bench/scalesim_goldens.py` (do not edit by hand; rerun the script):",
        "",
        f"    {command}",
        "",
        f"* SCALE-Sim `scalesim=={versions['scalesim']}` (PyPI), numpy {versions['numpy']}, "
        f"Python {versions['python']}, in a separate venv (`.venv-scalesim/`).",
        f"* Date: {versions['date']}. Host: {versions['host']}.",
        "* Per dataflow, `<dataflow>/` holds the exact inputs (`scale.cfg`, `topology.csv`, "
        "`layout.csv`) and SCALE-Sim's three report CSVs. SCALE-Sim was run as "
        "`<venv>/bin/python -m scalesim.scale -c scale.cfg -t topology.csv -l layout.csv "
        "-p OUTDIR -s N` (through a runpy wrapper that times each layer; same code path). "
        "3.0.0 ignores `-s N` and always writes per-cycle trace CSVs; they were deleted.",
        "* `summary.json`: every number below plus the closed forms, machine-readable. "
        "`timings.json`: SCALE-Sim's run times.",
        "",
        "## Configuration",
        "",
        "SCALE-Sim's default 32x32 architecture (what accelsim's `scalesim-32x32-ws` preset "
        "models): 32x32 array; ifmap, filter and ofmap SRAMs of 64 kB each, double-buffered "
        "(half active, half prefetch); offsets ifmap 0, filter 10,000,000, ofmap 20,000,000; "
        "`InterfaceBandwidth: USER` with 10 words/cycle (in USER mode 3.0.0 uses "
        "`[layout] IfmapSRAMBankBandwidth` and `FilterSRAMBankBandwidth` as the ifmap / filter "
        "DRAM read bandwidth and `Bandwidth` only for ofmap writes - all three are 10); "
        "Read/WriteRequestBuffer 32 (only used with Ramulator); custom layouts off; sparsity "
        "off; no Ramulator (ideal DRAM, latency 1). The same `scale.cfg` with "
        "`Dataflow` = ws / os / is is used for the three directories.",
        "",
        "## Layers (`topology.csv`, same in each directory)",
        "",
        "Conv format: name, IFMAP H, IFMAP W, filter H, filter W, channels, filters, stride "
        "(same stride both ways), trailing comma. Inputs are given as SCALE-Sim takes them "
        "(already padded, no batch); all layers here are unpadded 'valid' convolutions, "
        "ofmap = (H - F)/stride + 1 (SCALE-Sim computes ceil((H - F + S)/S), equal here).",
        "",
        "| id | layer | input HxWxC | filter | K | stride | ofmap | window (HWC) | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, L in enumerate(LAYERS):
        d = layer_dims(L)
        lines.append(f"| {i} | `{L['name']}` | {L['h']}x{L['w']}x{L['c']} | "
                     f"{L['fh']}x{L['fw']} | {L['k']} | {L['stride']} | "
                     f"{d['ofmap_h']}x{d['ofmap_w']} | {d['window']} | {L['note']} |")
    lines += [
        "",
        "## Closed forms (derived from `compute/systolic_compute_{ws,os,is}.py`, checked on "
        "every layer)",
        "",
        "R x C = 32 x 32 array. P = ofmap pixels (H_out * W_out), W = window = filter H * "
        "filter W * channels, K = filters. folds = ceil(Sr/R) * ceil(Sc/C). SCALE-Sim builds, "
        "per fold, `lines_per_fold` demand lines (one per array cycle, fill and drain "
        "included) and concatenates the folds with no overlap; compute cycles = Total Cycles - "
        "Stall Cycles = folds * lines_per_fold - 1.",
        "",
        "| dataflow | Sr (rows) | Sc (cols) | T (time) | lines_per_fold | SRAM ifmap reads | "
        "SRAM filter reads | SRAM ofmap writes |",
        "|---|---|---|---|---|---|---|---|",
        "| ws | W | K | P | 2R + C + T - 2 | P * W * ceil(K/C) | W * K | "
        "P * K * ceil(W/R) |",
        "| os | P | K | W | R + C + T - 2 | P * W * ceil(K/C) | W * K * ceil(P/R) | "
        "P * K + folds * (R + C) (*) |",
        "| is | W | P | K | 2R + C + T - 2 | W * P | K * W * ceil(P/C) | "
        "P * K * ceil(W/R) |",
        "",
        "ws: R cycles to load the weights + R - 1 rows of input skew + T pixels + C - 1 to "
        "drain the last partial sums across the columns. is: the same with inputs held "
        "stationary and filters streamed. os: no preload; T = W multiply-accumulate steps + "
        "(R - 1) + (C - 1) skew. (*) the os ofmap SRAM-write count includes a counting slip of "
        "3.0.0 (R + C added per fold).",
        "",
        "## Results",
        "",
        "Total and Stall from COMPUTE_REPORT.csv, compute = Total - Stall, closed form = "
        "folds * lines_per_fold - 1. DRAM reads/writes from DETAILED_ACCESS_REPORT.csv; "
        "compulsory = the tensor's size in bytes (ifmap H*W*C, filter fh*fw*C*K, ofmap "
        "P*K). 'fetch' = size of SCALE-Sim's filter fetch matrix with -1 pads (see below); "
        "'min' = the DRAM filter reads SCALE-Sim would report with no wrap-around refetch.",
        "",
    ]
    for df in dataflows:
        lines += [
            f"### {df}",
            "",
            "| layer | folds | total | stall | compute | closed form | DRAM filter reads | "
            "compulsory filter B | filter fetch (min) | DRAM ifmap reads | compulsory ifmap B "
            "| DRAM ofmap writes | compulsory ofmap B |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for L in LAYERS:
            r = results[df][L["name"]]
            cf = r["closed_form"]
            ok = "" if r["compute_cycles"] == cf["compute_cycles"] else " **MISMATCH**"
            lines.append(
                f"| `{L['name']}` | {cf['folds']} | {fmt(r['total_cycles'])} | "
                f"{fmt(r['stall_cycles'])} | {fmt(r['compute_cycles'])} | "
                f"{fmt(cf['compute_cycles'])}{ok} | {fmt(r['dram_filter_reads'])} | "
                f"{fmt(r['compulsory_filter_bytes'])} | {fmt(r['filter_fetch_elems'])} "
                f"({fmt(r['filter_min_dram_reads'])}) | {fmt(r['dram_ifmap_reads'])} | "
                f"{fmt(r['compulsory_ifmap_bytes'])} | {fmt(r['dram_ofmap_writes'])} | "
                f"{fmt(r['compulsory_ofmap_bytes'])} |")
        lines.append("")
    lines += [
        "Every compute-cycle and SRAM-count closed form matched." if not problems
        else "**Closed-form mismatches:**\n\n" + "\n".join(f"* {p}" for p in problems),
        "",
        "## Timing (`timings.json`)",
        "",
    ]
    st = timings.get("standalone")
    if st:
        lines.append(f"Stand-alone `{st['layer']}` in ws (whole SCALE-Sim process, trace CSVs "
                     f"included, venv creation excluded): **{st['wall_s']:.1f} s**, peak RSS "
                     f"{st['peak_rss_mb']:.0f} MB.")
        lines.append("")
    lines += ["Per layer inside the full runs (`simulate` = `single_layer_sim.run()`, "
              "`report` = report-item computation, `traces` = writing the trace CSVs), seconds:",
              "",
              "| layer | " + " | ".join(f"{df} simulate / report / traces" for df in dataflows)
              + " |",
              "|---|" + "---|" * len(dataflows)]
    for L in LAYERS:
        cells = []
        for df in dataflows:
            t = timings["runs"][df]["layers"][L["name"]]
            cells.append(f"{t['simulate_s']:.1f} / {t['report_s']:.1f} / "
                         f"{t['trace_save_s']:.1f}")
        lines.append(f"| `{L['name']}` | " + " | ".join(cells) + " |")
    lines += ["", "Whole runs (one process per dataflow, all layers): "
              + ", ".join(f"{df} {timings['runs'][df]['process_wall_s']:.1f} s"
                          for df in dataflows) + ".", ""]
    lines += column_docs() + [README_DRAM]
    (out / "README.md").write_text("\n".join(lines))


# ----------------------------------------------------------------------------- main


def host_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=REPO_ROOT / ".venv-scalesim")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "data" / "scalesim")
    parser.add_argument("--dataflows", default=",".join(DATAFLOWS))
    parser.add_argument("--timing-repeats", type=int, default=1,
                        help="stand-alone timing runs of conv_58x58_c64_k64 (0: skip; min kept)")
    parser.add_argument("--docs-only", action="store_true",
                        help="do not run SCALE-Sim: rebuild summary.json and README.md from the "
                             "reports and timings.json already in --out")
    args = parser.parse_args()
    dataflows = [d.strip() for d in args.dataflows.split(",") if d.strip()]
    assert all(d in DATAFLOWS for d in dataflows), dataflows

    if args.docs_only:
        # Regenerate summary.json and README.md from the stored reports and timings.json.
        timings = json.loads((args.out / "timings.json").read_text())
        versions = {"scalesim": timings["scalesim_version"],
                    "numpy": timings["numpy_version"], "python": timings["python_version"],
                    "date": timings["date"], "host": timings["host"]}
    else:
        py, versions = ensure_venv(args.venv)
        versions["python"] = subprocess.run(
            [str(py), "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=True).stdout.strip()
        versions["date"] = _dt.date.today().isoformat()
        versions["host"] = host_description()
        args.out.mkdir(parents=True, exist_ok=True)

        timings = {"scalesim_version": versions["scalesim"], "numpy_version": versions["numpy"],
                   "python_version": versions["python"], "date": versions["date"],
                   "host": versions["host"],
                   "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                   "runs": {}}
        for df in dataflows:
            dest = args.out / df
            inputs = write_inputs(dest, df, LAYERS)
            timings["runs"][df] = run_scalesim(py, inputs, df, dest)
        if args.timing_repeats > 0:
            timings["standalone"] = standalone_timing(py, args.timing_repeats)
            timings["wall_s"] = timings["standalone"]["wall_s"]

    results, problems = analyse(args.out, dataflows)
    rel_out = os.path.relpath(args.out, REPO_ROOT)
    command = f"python bench/scalesim_goldens.py --out {rel_out}"
    summary = {
        "scalesim_version": versions["scalesim"], "numpy_version": versions["numpy"],
        "date": versions["date"],
        "array": {"rows": ARRAY_ROWS, "cols": ARRAY_COLS},
        "sram_kb": {"ifmap": SRAM_KB, "filter": SRAM_KB, "ofmap": SRAM_KB},
        "dram_words_per_cycle": BANDWIDTH, "word_bytes": 1,
        "layers": [{**L, **layer_dims(L)} for L in LAYERS],
        "results": results,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (args.out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    write_readme(args.out, results, versions, timings, dataflows, problems, command)

    for df in dataflows:
        print(f"\n{df}: layer, total, stall, compute, closed form, DRAM filter reads, "
              "compulsory filter B")
        for L in LAYERS:
            r = results[df][L["name"]]
            print(f"  {L['name']:26s} {r['total_cycles']:>9} {r['stall_cycles']:>9} "
                  f"{r['compute_cycles']:>8} {r['closed_form']['compute_cycles']:>8} "
                  f"{r['dram_filter_reads']:>9} {r['compulsory_filter_bytes']:>8}")
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"\nwrote {args.out} ({size / 1024:.0f} kB)")
    for p in problems:
        print("MISMATCH:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
