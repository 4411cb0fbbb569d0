"""`troupe eval`: a scenario over a dataset of tasks, every run scored (expectations, an LLM judge),
the numbers with confidence intervals, an HTML report, two evals compared; on this machine or on Ray.

    from autogen_troupe.eval import evaluate, load_tasks
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._compare import Comparison, compare
    from ._evaluate import EvalResult, evaluate
    from ._results import EvalMeta, JudgeVerdict, ResultsFolder, RunRecord
    from ._stats import Summary, summarize
    from ._tasks import EvalTask, load_tasks

__all__ = [
    "Comparison",
    "EvalMeta",
    "EvalResult",
    "EvalTask",
    "JudgeVerdict",
    "ResultsFolder",
    "RunRecord",
    "Summary",
    "compare",
    "evaluate",
    "load_tasks",
    "summarize",
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
    "load_tasks": "._tasks",
    "summarize": "._stats",
}
__getattr__ = lazy_exports(__name__, _WHERE)
