"""`troupe eval`: a scenario over a dataset of tasks, every run scored (expectations, an LLM judge),
the numbers with confidence intervals, an HTML report, two evals compared; on this machine or on Ray.

    from autogen_troupe.eval import evaluate, load_tasks
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._compare import Comparison, Diff, compare
    from ._evaluate import EvalResult, evaluate
    from ._gate import GateReport, gate
    from ._junit import write_junit
    from ._matrix import MatrixResult, evaluate_matrix
    from ._rescore import rescore
    from ._results import EvalMeta, JudgeVerdict, ResultsFolder, RunRecord
    from ._stats import Dist, Rate, Summary, summarize
    from ._tasks import EvalTask, load_tasks, resolve_tasks_path

__all__ = [
    "Comparison",
    "Diff",
    "Dist",
    "EvalMeta",
    "EvalResult",
    "EvalTask",
    "GateReport",
    "JudgeVerdict",
    "MatrixResult",
    "Rate",
    "ResultsFolder",
    "RunRecord",
    "Summary",
    "compare",
    "evaluate",
    "evaluate_matrix",
    "gate",
    "load_tasks",
    "rescore",
    "resolve_tasks_path",
    "summarize",
    "write_junit",
]

_WHERE = {
    "Comparison": "._compare",
    "EvalMeta": "._results",
    "EvalResult": "._evaluate",
    "EvalTask": "._tasks",
    "JudgeVerdict": "._results",
    "ResultsFolder": "._results",
    "RunRecord": "._results",
    "Summary": "._stats",
    "compare": "._compare",
    "evaluate": "._evaluate",
    "gate": "._gate",
    "evaluate_matrix": "._matrix",
    "MatrixResult": "._matrix",
    "GateReport": "._gate",
    "write_junit": "._junit",
    "load_tasks": "._tasks",
    "rescore": "._rescore",
    "summarize": "._stats",
    "resolve_tasks_path": "._tasks",
    "Diff": "._compare",
    "Dist": "._stats",
    "Rate": "._stats",
}
__getattr__ = lazy_exports(__name__, _WHERE)
