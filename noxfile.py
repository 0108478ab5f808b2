"""Every developer and CI task of mri-suite, as nox sessions.

Sessions use pip in virtualenvs (pip reads the machine's index configuration; uv does not).
Every session that installs torch passes ``constraints.txt``, which pins the one torch build
the project is tested with.

    nox -s tests                      each package alone, in its own fresh venv
    nox -s "tests(package='mri-io')"  one package
    nox -s integration                tests-integration/ (CPU)
    nox -s quality                    tests-quality/: models learn (fixed steps and seeds)
    nox -s demo                       the main job on the bundled synthetic cohort
    nox -s bench -- NAME [args]       one benchmark (BENCHMARKS) with what it needs
    nox -s bump -- 0.2.0              set every version and internal pin
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "tests", "integration"]

ROOT = Path(__file__).resolve().parent
PACKAGES = ["mri-io", "mri-metrics", "mri-gen", "mri-seg", "mri-bench"]
#: Packages whose installation must never pull torch.
TORCH_FREE = {"mri-io", "mri-metrics"}
CONSTRAINTS = ROOT / "constraints.txt"
INTERNAL_PIN = re.compile(
    r"\b(mri-(?:io|metrics|gen|seg|bench))(\[[A-Za-z0-9_,-]+\])?==([0-9A-Za-z.+-]+)"
)
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)


def package_dir(name: str) -> Path:
    return ROOT / "packages" / name


def module_name(name: str) -> str:
    return name.replace("-", "_")


def about_file(name: str) -> Path:
    return package_dir(name) / "src" / module_name(name) / "__about__.py"


def project_table(name: str) -> dict:
    return nox.project.load_toml(package_dir(name) / "pyproject.toml")["project"]


def all_extras(name: str) -> list[str]:
    return sorted(project_table(name).get("optional-dependencies", {}))


def internal_requirements(name: str, extras: list[str]) -> set[str]:
    """mri-suite packages ``name[extras]`` needs, transitively (core dependencies below it)."""
    project = project_table(name)
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    found: set[str] = set()
    for requirement in requirements:
        match = INTERNAL_PIN.search(requirement)
        if match and match.group(1) != name:
            found.add(match.group(1))
            found |= internal_requirements(match.group(1), [])
    return found


def install_local(session: nox.Session, names: list[str], *, editable: bool = False) -> None:
    """Install packages from this checkout with all their extras, plus the local packages
    they pin, so pip never looks for an mri-suite package on an index."""
    targets: list[str] = []
    needed: set[str] = set()
    for name in names:
        extras = all_extras(name)
        needed |= internal_requirements(name, extras)
        path = str(package_dir(name))
        targets.append(f"{path}[{','.join(extras)}]" if extras else path)
    targets += [str(package_dir(dep)) for dep in sorted(needed - set(names))]
    args = ["-c", str(CONSTRAINTS)]
    for target in targets:
        args += ["-e", target] if editable else [target]
    session.install(*args)


@nox.session
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests in a fresh venv holding only what that package declares."""
    install_local(session, [package])
    session.run(
        "pytest",
        str(package_dir(package) / "tests"),
        "-m",
        "not gpu and not quality",
        *session.posargs,
    )


@nox.session
def integration(session: nox.Session) -> None:
    """Whole-pipeline tests on CPU (tests-integration/, not GPU-marked)."""
    install_local(session, PACKAGES)
    session.run("pytest", str(ROOT / "tests-integration"), "-m", "not gpu", *session.posargs)


@nox.session
def quality(session: nox.Session) -> None:
    """Quality tests (tests-quality/): each model family trained a fixed number of steps with
    a fixed seed on one torch thread meets its claim on held-out synthetic cases, or, where
    its recipe does not meet it yet (a strict expected failure), the floors measured from
    three seeds; about half an hour of CPU. Floors and figures: docs/quality/index.md."""
    install_local(session, PACKAGES)
    session.run(
        "pytest",
        str(ROOT / "tests-quality"),
        "-m",
        "quality",
        "-rP",
        *session.posargs,
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )


@nox.session
def gpu(session: nox.Session) -> None:
    """GPU-marked tests of every package and of tests-integration/; needs a CUDA device."""
    install_local(session, PACKAGES)
    has_cuda = session.run(
        "python", "-c", "import torch; print(torch.cuda.is_available())", silent=True
    )
    if not has_cuda or has_cuda.strip() != "True":
        session.error("no CUDA device is visible to torch; the gpu session needs a GPU machine")
    paths = [str(package_dir(p) / "tests") for p in PACKAGES] + [str(ROOT / "tests-integration")]
    session.run("pytest", *paths, "-m", "gpu", *session.posargs)


@nox.session
def isolation(session: nox.Session) -> None:
    """Build every wheel, then install each package alone from the wheels in a clean venv."""
    wheels = Path(tempfile.mkdtemp(prefix="mri-wheels-"))
    for name in PACKAGES:
        session.run("pip", "wheel", "--no-deps", "--wheel-dir", str(wheels), str(package_dir(name)))
    for name in PACKAGES:
        venv = Path(tempfile.mkdtemp(prefix=f"{name}-venv-"))
        session.run("python", "-m", "venv", str(venv))
        python, script = str(venv / "bin" / "python"), str(venv / "bin" / name)
        session.run(
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--find-links",
            str(wheels),
            "-c",
            str(CONSTRAINTS),
            name,
            external=True,
        )
        session.run(python, "-c", f"import {module_name(name)}", external=True)
        session.run(script, "--help", external=True, silent=True)
        if name in TORCH_FREE:
            session.run(
                python,
                "-c",
                "import importlib.util, sys; "
                "sys.exit('torch was installed' if importlib.util.find_spec('torch') else 0)",
                external=True,
            )
        session.log(f"{name}: installs and imports alone")
        shutil.rmtree(venv)
    shutil.rmtree(wheels)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy, strict, over every package's source."""
    install_local(session, PACKAGES, editable=True)
    session.install("mypy>=1.10")
    session.run("mypy", *[f"--package={module_name(p)}" for p in PACKAGES])


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """Wheels and sdists of every package into dist/."""
    session.install("build")
    dist = ROOT / "dist"
    for name in PACKAGES:
        session.run("python", "-m", "build", "--outdir", str(dist), str(package_dir(name)))


def read_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        match = VERSION_LINE.search(about_file(name).read_text())
        if match is None:
            raise RuntimeError(f"{about_file(name)}: no __version__ line")
        versions[name] = match.group(1)
    return versions


@nox.session(python=False, default=False)
def bump(session: nox.Session) -> None:
    """Set every package version and every internal pin: nox -s bump -- X.Y.Z"""
    release = r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?"
    if len(session.posargs) != 1 or not re.fullmatch(release, session.posargs[0]):
        session.error("usage: nox -s bump -- X.Y.Z")
    new = session.posargs[0]
    for name in PACKAGES:
        about = about_file(name)
        about.write_text(VERSION_LINE.sub(f'__version__ = "{new}"', about.read_text()))
        pyproject = package_dir(name) / "pyproject.toml"
        text = INTERNAL_PIN.sub(
            lambda m: f"{m.group(1)}{m.group(2) or ''}=={new}", pyproject.read_text()
        )
        pyproject.write_text(text)
    session.log(f"every version and internal pin is now {new}; date the changelog section")


@nox.session(python=False)
def check_versions(session: nox.Session) -> None:
    """Fail when package versions differ or an internal pin is not the shared version."""
    versions = read_versions()
    if len(set(versions.values())) != 1:
        session.error(f"package versions differ: {versions}")
    version = next(iter(versions.values()))
    problems = []
    for name in PACKAGES:
        pyproject = package_dir(name) / "pyproject.toml"
        for pin, _extras, pinned in INTERNAL_PIN.findall(pyproject.read_text()):
            if pinned != version:
                where = pyproject.relative_to(ROOT)
                problems.append(f"{where}: {pin}=={pinned}, expected {version}")
    if problems:
        session.error("; ".join(problems))
    session.log(f"all packages at {version}, every internal pin matches")


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/; warnings are errors."""
    session.install("mkdocs>=1.6")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"))


#: Benchmarks that write the JSON their docs are rendered from, by name: ``packages`` installed
#: with all their extras (mri-io's where a benchmark draws MNI152-anatomy cases: nilearn's
#: template), the ``script``, ``peers`` installed for it alone, the JSON files under docs/ it
#: ``writes`` (globs allowed; an integration test checks that every result JSON there is
#: listed) and ``threads``, the torch threads it runs on (one on the CPU machines, where more
#: oversubscribe the cores; ``None``, torch's default, on the GPU machine). Plain literals, so
#: the test reads them without importing nox.
BENCHMARKS: dict[str, dict[str, Any]] = {
    "metrics": {
        "packages": ["mri-metrics"],
        "script": "packages/mri-metrics/benchmarks/bench_metrics.py",
        # The BraTS 2024+ evaluation package, whose bundled gli configuration is a peer.
        "peers": ["brats-evaluation==0.0.10"],
        "writes": ["mri-metrics/speed.json"],
        "threads": 1,
    },
    # Needs a CUDA device (``--quick``: a CPU check of the script).
    "gpu": {
        "packages": ["mri-bench"],
        "script": "packages/mri-bench/benchmarks/gpu_times.py",
        "peers": [],
        "writes": ["gpu.json"],
        "threads": None,
    },
    "read-normalise-slice": {
        "packages": ["mri-io"],  # the peer, plain nibabel + numpy, comes with mri-io
        "script": "packages/mri-io/benchmarks/bench_read_normalise_slice.py",
        "peers": [],
        "writes": ["mri-io/read-normalise-slice.json"],
        "threads": 1,
    },
    "synthetic": {
        "packages": ["mri-io"],
        "script": "packages/mri-io/benchmarks/bench_synthetic.py",
        "peers": [],
        "writes": ["mri-io/synthetic-speed.json"],
        "threads": 1,
    },
    "inference": {
        "packages": ["mri-seg"],
        "script": "packages/mri-seg/benchmarks/bench_inference.py",
        "peers": [],
        "writes": ["mri-seg/inference-speed.json"],
        "threads": 1,
    },
    "train-tiny": {
        "packages": ["mri-seg", "mri-io"],
        "script": "packages/mri-seg/benchmarks/train_tiny.py",
        "peers": [],
        "writes": ["mri-seg/train_tiny.json"],
        "threads": 1,
    },
    "cross-recipe": {
        "packages": ["mri-seg", "mri-io"],
        "script": "packages/mri-seg/benchmarks/cross_recipe.py",
        "peers": [],
        "writes": ["mri-seg/cross-recipe.json"],
        "threads": 1,
    },
    "synthtumour": {
        "packages": ["mri-seg", "mri-io"],
        "script": "packages/mri-seg/benchmarks/synthtumour.py",
        "peers": [],
        "writes": ["mri-seg/synthtumour.json", "mri-seg/synthtumour-*.json"],
        "threads": 1,
    },
    "synthtumour-speed": {
        "packages": ["mri-seg", "mri-io"],
        "script": "packages/mri-seg/benchmarks/synthesis_speed.py",
        "peers": [],
        "writes": ["mri-seg/synthesis_speed.json"],
        "threads": 1,
    },
    "kle": {
        "packages": ["mri-bench", "mri-io"],
        "script": "packages/mri-seg/benchmarks/kle_robust.py",
        "peers": [],
        "writes": ["mri-seg/kle.json", "mri-seg/kle-800.json", "mri-seg/kle-benchmark/*.json"],
        "threads": 1,
    },
    "ganet": {
        "packages": ["mri-seg", "mri-io"],
        "script": "docs/mri-seg/ganet_measure.py",
        "peers": [],
        "writes": ["mri-seg/ganet_results.json"],
        "threads": 1,
    },
    "demo-design": {
        "packages": ["mri-bench", "mri-io"],
        "script": "packages/mri-bench/benchmarks/demo_design.py",
        "peers": [],
        "writes": ["mri-bench/demo-design.json"],
        "threads": 1,
    },
    "fresh-clone-demo": {
        "packages": ["mri-io"],
        "script": "packages/mri-bench/benchmarks/fresh_clone_demo.py",
        "peers": [],
        "writes": ["mri-bench/fresh-clone-demo.json"],
        "threads": 1,
    },
    # The quality set's three-seed measurement (the floors) and its step and variant sweeps.
    "quality": {
        "packages": ["mri-io", "mri-metrics", "mri-gen", "mri-seg", "mri-bench"],
        "script": "tests-quality/measure.py",
        "peers": [],
        "writes": ["quality/results.json", "quality/runs/*.json"],
        "threads": 1,
    },
    "quality-sweep": {
        "packages": ["mri-io", "mri-metrics", "mri-gen", "mri-seg", "mri-bench"],
        "script": "tests-quality/sweep.py",
        "peers": [],
        "writes": [
            "quality/*-steps.json",
            "quality/ummgat-variants.json",
            "quality/ummgat-paired.json",
        ],
        "threads": 1,
    },
    # Copies a ``nox -s demo`` report (README line 1) into docs/example-report/.
    "example-report": {
        "packages": ["mri-io"],
        "script": "docs/figures/example_report.py",
        "peers": [],
        "writes": ["example-report/*.json"],
        "threads": 1,
    },
}


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """One benchmark with what it needs: nox -s bench -- NAME [script arguments]"""
    if not session.posargs or session.posargs[0] not in BENCHMARKS:
        session.error(f"usage: nox -s bench -- NAME [arguments]; NAME is one of {list(BENCHMARKS)}")
    entry = BENCHMARKS[session.posargs[0]]
    install_local(session, list(entry["packages"]))
    if entry["peers"]:
        session.install("-c", str(CONSTRAINTS), *entry["peers"])
    threads = entry["threads"]
    env = (
        {}
        if threads is None
        else {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    )
    session.run("python", entry["script"], *session.posargs[1:], env=env)


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """The main job on the bundled synthetic cohort; the report lands in demo-out/."""
    install_local(session, PACKAGES)
    out = session.posargs[0] if session.posargs else str(ROOT / "demo-out")
    session.run("mri-bench", "demo", "--out", out)
