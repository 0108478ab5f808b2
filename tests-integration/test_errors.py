"""One error root: every package's errors live in its ``errors`` module and derive from
:class:`mri_io.MriSuiteError`, and every command line prints them as one line with exit 2."""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import mri_io

SOURCES = Path(__file__).resolve().parent.parent / "packages"
PACKAGES = ["mri_io", "mri_metrics", "mri_gen", "mri_seg", "mri_bench"]
#: The package's family base: ``except`` it to catch every error of one package.
FAMILY = {
    "mri_io": "MriIoError",
    "mri_metrics": "MetricInputError",
    "mri_gen": "MriGenError",
    "mri_seg": "MriSegError",
    "mri_bench": "MriBenchError",
}
#: A missing optional dependency is a broken install, not bad input: an ImportError by design.
NOT_USER_INPUT = {"mri_gen.errors.MissingExtraError"}


def error_classes(package: str) -> list[type[BaseException]]:
    module = importlib.import_module(f"{package}.errors")
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    ]


def make(error: type[BaseException], problem: str) -> BaseException:
    """An instance, whichever of the two constructors (path + problem, or message) it has."""
    if "path" in inspect.signature(error).parameters:
        return error(None, problem)
    return error(problem)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_error_derives_from_the_suite_root_and_its_family(package: str) -> None:
    family = getattr(importlib.import_module(f"{package}.errors"), FAMILY[package])
    suite_level = {mri_io.MriSuiteError, mri_io.ConfigError}
    classes = error_classes(package)
    assert family in classes
    for error in classes:
        if f"{error.__module__}.{error.__qualname__}" in NOT_USER_INPUT:
            assert issubclass(error, ImportError)
        elif error not in suite_level:
            assert issubclass(error, family), error
            assert issubclass(error, mri_io.MriSuiteError), error


def test_errors_are_defined_only_in_each_packages_errors_module() -> None:
    """A public exception class anywhere else in a package's source is a scattered error."""
    scattered = []
    for source in sorted(SOURCES.glob("*/src/*/**/*.py")):
        if source.name == "errors.py" and source.parent.parent.name == "src":
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = [ast.unparse(base) for base in node.bases]
                if any(base.endswith(("Error", "Exception")) for base in bases):
                    scattered.append(f"{source.relative_to(SOURCES)}: {node.name}")
    assert scattered == []


def test_shared_concepts_are_one_class_caught_suite_wide() -> None:
    import mri_bench
    import mri_gen.errors
    import mri_metrics

    for config_error in (mri_gen.errors.ConfigError, mri_bench.ConfigError):
        assert issubclass(config_error, mri_io.ConfigError)
        assert issubclass(config_error, ValueError)
    assert issubclass(mri_metrics.NonFiniteError, mri_io.NonFiniteError)
    with pytest.raises(mri_io.NonFiniteError, match="holds 1 non-finite"):
        mri_metrics.mae(np.array([1.0, np.nan]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("package", PACKAGES)
def test_errors_survive_pickling_across_processes(package: str) -> None:
    for error in error_classes(package):
        if not issubclass(error, mri_io.MriSuiteError):
            continue
        original = make(error, "it is broken")
        copy = pickle.loads(pickle.dumps(original))
        assert type(copy) is error
        assert str(copy) == str(original) == "it is broken"


@pytest.mark.parametrize("cli", PACKAGES)
@pytest.mark.parametrize("raiser", PACKAGES)
def test_every_command_line_prints_any_package_error_as_one_line(
    cli: str, raiser: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = importlib.import_module(f"{cli}.cli")
    family = getattr(importlib.import_module(f"{raiser}.errors"), FAMILY[raiser])
    real: Callable[[], argparse.ArgumentParser] = module.build_parser

    def failing_parser() -> argparse.ArgumentParser:
        def handler(args: argparse.Namespace) -> int:
            raise make(family, "case-7.nii.gz: the\nproblem")

        parser = real()
        parser.set_defaults(handler=handler)
        return parser

    monkeypatch.setattr(module, "build_parser", failing_parser)
    monkeypatch.delenv("MRI_SUITE_DEBUG", raising=False)
    assert module.main([]) == 2
    err = capsys.readouterr().err
    prog = cli.replace("_", "-")
    assert err == f"{prog}: error: case-7.nii.gz: the problem\n"
