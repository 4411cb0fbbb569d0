"""The option groups of `troupe eval`: the models to run on (several make a matrix) and the CI gate
(`--baseline`, `--fail-on-regression`, `--alpha`, `--junit`), shared by `eval run` and `eval rescore`."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .console import out
from .errors import BadInput, Failed, writable_file
from .options import OptionGroup

if TYPE_CHECKING:
    from ..models import Overrides

__all__ = ["GateFlags", "MatrixFlags"]


@dataclass(frozen=True)
class MatrixFlags(OptionGroup):
    """--profile, --base-url and --model, where --profile and --model may be given several times: the
    eval then runs on each (every profile with every model id) and reports them side by side."""

    profile: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            metavar="PROFILE",
            rich_help_panel="Models",
            help="Model profile instead of the scenario's; several: a model matrix.",
        ),
    ] = None
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            rich_help_panel="Models",
            help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.",
        ),
    ] = None
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            metavar="ID",
            rich_help_panel="Models",
            help="Model id at the endpoint (default: discovered); several: a model matrix.",
        ),
    ] = None

    def entries(self) -> list[tuple[str, Overrides]]:
        """(label, overrides) for each model to run on: one unless a flag was given several times."""
        from ..models import Overrides

        env = Overrides.from_env(os.environ)
        profiles: list[str | None] = list(dict.fromkeys(self.profile or [])) or [None]
        models: list[str | None] = list(dict.fromkeys(self.model or [])) or [None]
        out = []
        for p, m in itertools.product(profiles, models):
            label = ":".join(x for x in (p, m) if x) or "default"
            out.append((label, env.merged(profile=p, base_url=self.base_url, model=m)))
        return out


@dataclass(frozen=True)
class GateFlags(OptionGroup):
    """--baseline, --fail-on-regression, --alpha and --junit: what CI needs from an eval."""

    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            rich_help_panel="CI gate",
            help="Results folder to compare with: which tasks flipped, and the gate.",
        ),
    ] = None
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            rich_help_panel="CI gate",
            help="Exit 1 when a pass rate (in all, or an expectation's) dropped from --baseline by more "
            "than chance (one-sided Fisher exact test).",
        ),
    ] = False
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha", rich_help_panel="CI gate", min=0.0, max=1.0, help="The gate's significance level."
        ),
    ] = 0.05
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", rich_help_panel="CI gate", help="Also write JUnit XML here (one test case per task)."
        ),
    ] = None

    def check(self) -> None:
        """Before any run: the flags agree, and the baseline is the folder of an eval."""
        from ..eval import ResultsFolder

        writable_file(self.junit, "--junit", "junit.xml")
        if self.fail_on_regression and self.baseline is None:
            raise BadInput("--fail-on-regression compares with a baseline: give --baseline RESULTS")
        if self.baseline is not None:
            ResultsFolder(self.baseline).read_meta()

    def apply(self, results: dict[str, Any]) -> None:
        """Write --junit (a test suite per model), compare each model with --baseline, and fail on a
        regression of any when asked. `results` are EvalResults by model label ("" for a single eval)."""
        from ..eval import ResultsFolder, gate, write_junit
        from .eval_view import render_gate

        if self.junit is not None:
            suites = [(label, r.meta, r.summary, r.records) for label, r in results.items()]
            out.print(f"JUnit XML: {write_junit(self.junit, suites)}", markup=False)
        if self.baseline is None:
            return
        base = list(ResultsFolder(self.baseline).load_runs().values())
        worse = []
        for label, r in results.items():
            report = gate(base, r.records, name=str(self.baseline), alpha=self.alpha)
            if label:
                out.print(f"{label}:", markup=False)
            out.print(render_gate(report))
            worse += [(f"{label} " if label else "") + d.name for d in report.rates if d.regression]
        if self.fail_on_regression and worse:
            dropped = ", ".join(worse)
            raise Failed(f"regression against {self.baseline}: {dropped} dropped by more than chance")
