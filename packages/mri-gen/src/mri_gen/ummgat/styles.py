"""Style codes of real slices, their 2D projection and its figure (the paper's UMAP plots).

The paper shows that the sequence encoder separates domains by projecting style codes of real
images to 2D with UMAP. :func:`style_codes` encodes slices with each one's own domain branch;
:func:`project_2d` uses UMAP when ``umap-learn`` is installed (``pip install "mri-gen[umap]"``)
and PCA (exact, via SVD) otherwise, and says which it used; :func:`save_projection` writes the
codes as CSV (machine-readable) and, when matplotlib is installed, a PNG scatter by domain.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from mri_gen.errors import MissingExtraError
from mri_gen.ummgat.data import UnpairedSlices
from mri_gen.ummgat.inference import Translator
from mri_io.atomic import atomic_write

Method = Literal["umap", "pca", "auto"]


def style_codes(translator: Translator, slices: UnpairedSlices) -> tuple[NDArray[Any], list[str]]:
    """``(n, style_dim)`` codes of every slice, encoded by its domain's branch, and domains."""
    codes, names = [], []
    for index, domain in enumerate(slices.domains):
        rows = (slices.domain_of == index).numpy()
        if rows.any():
            encoded = translator.encode_slices(slices.images.numpy()[rows], domain)
            codes.append(encoded.cpu().numpy())
            names += [domain] * int(rows.sum())
    return np.concatenate(codes), names


def pca_2d(codes: NDArray[Any]) -> NDArray[np.float64]:
    """Scores on the first two principal components (signs fixed: largest loading positive)."""
    centred = np.asarray(codes, dtype=np.float64) - np.mean(codes, axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    axes *= np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]
    scores: NDArray[np.float64] = centred @ axes.T
    return scores


def project_2d(
    codes: NDArray[Any], method: Method = "auto", seed: int = 0
) -> tuple[NDArray[np.float64], str]:
    """2D embedding of ``codes`` and the method used (``auto``: UMAP if installed, else PCA)."""
    has_umap = importlib.util.find_spec("umap") is not None
    if method == "umap" and not has_umap:
        raise MissingExtraError('UMAP projections need umap-learn: pip install "mri-gen[umap]"')
    if method == "pca" or (method == "auto" and not has_umap):
        return pca_2d(codes), "pca"
    import umap

    reducer = umap.UMAP(n_components=2, random_state=seed)
    return np.asarray(reducer.fit_transform(codes), dtype=np.float64), "umap"


def save_projection(
    points: NDArray[Any], domains: Sequence[str], method: str, out: str | PathLike[str]
) -> list[Path]:
    """``out.csv`` (domain, x, y) and, with matplotlib installed, ``out.png``; returns both."""
    stem = Path(out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    table = stem.with_suffix(".csv")
    with atomic_write(table) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["domain", f"{method}_1", f"{method}_2"])
        for domain, (x, y) in zip(domains, points, strict=True):
            writer.writerow([domain, f"{x:.6g}", f"{y:.6g}"])
    written = [table]
    if importlib.util.find_spec("matplotlib") is None:
        return written
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4.5))
    labels = np.asarray(domains)
    for domain in sorted(set(domains)):
        chosen = points[labels == domain]
        axes.scatter(chosen[:, 0], chosen[:, 1], s=6, label=domain)
    axes.set_xlabel(f"{method.upper()} 1")
    axes.set_ylabel(f"{method.upper()} 2")
    axes.set_title("UMMGAT style codes by domain")
    axes.legend(fontsize=7, markerscale=2)
    figure.tight_layout()
    image = stem.with_suffix(".png")
    with atomic_write(image) as temporary:
        figure.savefig(temporary, dpi=150, format="png")
    plt.close(figure)
    written.append(image)
    return written
