"""What tracing costs: replayed runs with telemetry off and on, in fresh processes taking turns.

    python benchmarks/tracing.py [--rounds 8] [--replays 20] [--scenarios DIR]

Every bundled scenario that has a cassette is replayed (offline, strict), as `benchmarks/replay.py` does.
"Off" is the library as it ships: no tracer or meter provider installed. "On" is what `troupe run --trace`
installs: the SDK's tracer provider with a batch span processor and a meter provider with a periodic
reader, exporting through an exporter that encodes each batch to OTLP protobuf (the work an OTLP exporter
does before the network) and drops it. Each round runs one process per condition back to back, the order
alternating, so the machine's drift weighs on both; each process warms up first (imports, first-use
caches). The verdict is on the median over rounds of the paired on/off ratio of total replay time; the
target is under 1.02 (tracing adds under 2%); the exit code is 1 when it is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 1.02


def _install_tracing() -> Any:
    """Global providers as `--trace` installs them, exporting into a protobuf encoder that drops it all."""
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class EncodeAndDropSpans(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            encode_spans(spans).SerializeToString()
            return SpanExportResult.SUCCESS

    class EncodeAndDropMetrics(MetricExporter):
        def export(
            self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            encode_metrics(metrics_data).SerializeToString()
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            return None

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(EncodeAndDropSpans()))
    reader = PeriodicExportingMetricReader(EncodeAndDropMetrics(), export_interval_millis=5_000)
    meter_provider = MeterProvider(metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter())
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return tracer_provider, meter_provider


async def _replays(files: list[Path], replays: int) -> float:
    from autogen_troupe.scenario._loader import load_scenario
    from autogen_troupe.testing._cassette import cassette_path_for
    from autogen_troupe.testing._replay import replay_scenario

    for f in files:  # warm-up
        await replay_scenario(load_scenario(f), cassette_path_for(f))
    gc.collect()
    total = 0.0
    for _ in range(replays):
        for f in files:
            t0 = time.perf_counter()
            outcome = await replay_scenario(load_scenario(f), cassette_path_for(f))
            total += time.perf_counter() - t0
            if not outcome.complete:
                raise SystemExit(f"{f.stem}: the replay is incomplete: {outcome.unplayed}")
    return total


def child(condition: str, replays: int, scenarios: Path) -> None:
    from autogen_troupe import telemetry
    from autogen_troupe.runtime._logs import quiet_autogen_logs
    from autogen_troupe.testing._cassette import cassette_path_for
    from autogen_troupe.testing._suite import discover

    quiet_autogen_logs()
    providers = _install_tracing() if condition == "on" else None
    if telemetry.enabled() != (condition == "on"):
        raise SystemExit(f"telemetry should be {condition}")
    files = [f for f in discover([scenarios]) if cassette_path_for(f).exists()]
    total = asyncio.run(_replays(files, replays))
    if providers is not None:
        for p in providers:
            p.shutdown()
    print(json.dumps({"seconds": total, "replays": replays * len(files)}))


def run_child(condition: str, replays: int, scenarios: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            condition,
            "--replays",
            str(replays),
            "--scenarios",
            str(scenarios),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="Pairs of processes (default 8).")
    parser.add_argument("--replays", type=int, default=20, help="Replays of each scenario per process.")
    parser.add_argument("--scenarios", type=Path, default=ROOT / "scenarios", help="Folder of scenarios.")
    parser.add_argument("--child", choices=("off", "on"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.replays, args.scenarios)
        return
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    ratios: list[float] = []
    per_replay: dict[str, list[float]] = {"off": [], "on": []}
    for i in range(args.rounds):
        order = ("off", "on") if i % 2 == 0 else ("on", "off")
        got = {c: run_child(c, args.replays, args.scenarios) for c in order}
        for c, r in got.items():
            per_replay[c].append(r["seconds"] / r["replays"] * 1000)
        ratios.append(got["on"]["seconds"] / got["off"]["seconds"])
        off, on = per_replay["off"][-1], per_replay["on"][-1]
        print(f"round {i + 1}: off {off:.2f} ms, on {on:.2f} ms per replay, on/off {ratios[-1]:.3f}")
    median = statistics.median(ratios)
    print(
        f"\nmedian per replay: off {statistics.median(per_replay['off']):.2f} ms, "
        f"on {statistics.median(per_replay['on']):.2f} ms; on/off median {median:.3f}, "
        f"mean {statistics.mean(ratios):.3f} (load average after: {os.getloadavg()[0]:.2f})"
    )
    verdict = "met" if median < TARGET else "MISSED"
    print(f"tracing adds {(median - 1) * 100:+.1f}% to a replayed run (target: under +2%): {verdict}")
    sys.exit(0 if median < TARGET else 1)


if __name__ == "__main__":
    main()
