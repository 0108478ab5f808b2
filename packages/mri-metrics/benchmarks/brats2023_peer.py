"""Serve the BraTS 2023 challenge's lesion-wise script to ``bench_metrics.py``.

The script (``metrics.py`` of github.com/rachitsaluja/BraTS-2023-Metrics) is not a package and
needs pandas 1.x (``DataFrame.append``, object-column ``replace``), which does not install
beside the rest of the benchmark's environment (numpy 2). So it runs under its own interpreter,
one with its ``requirements.txt`` installed, in this long-lived process: it imports the script
once, prints ``ready`` and the versions it runs with, then for each line ``run`` on its input
scores the prediction file against the reference file and prints the WT, TC and ET lesion-wise
Dice, HD95 and false positives as one JSON list. The benchmark's clock around a request then
holds the script's computation and a pipe round trip, not an interpreter's start.

    python brats2023_peer.py SCRIPT_FOLDER PRED.nii.gz REF.nii.gz
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import sys


def main() -> None:
    folder, pred, ref = sys.argv[1:4]
    sys.path.insert(0, folder)  # the checkout's own copy of surface-distance
    spec = importlib.util.spec_from_file_location("brats2023_metrics", f"{folder}/metrics.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"{folder}: no metrics.py (a checkout of BraTS-2023-Metrics?)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    versions = {"python": sys.version.split()[0]}
    for name in ("numpy", "pandas", "scipy", "nibabel"):
        versions[name] = importlib.import_module(name).__version__
    print("ready", json.dumps(versions), flush=True)
    for _ in sys.stdin:
        with contextlib.redirect_stdout(io.StringIO()):
            table = module.get_LesionWiseResults(pred, ref, "BraTS-GLI").set_index("Labels")
        values = [
            float(table.loc[region, key])
            for region in ("WT", "TC", "ET")
            for key in ("LesionWise_Score_Dice", "LesionWise_Score_HD95", "Num_FP")
        ]
        print(json.dumps(values), flush=True)


if __name__ == "__main__":
    main()
