"""The benchmark scripts' smoke runs, so that they cannot rot. Their figures live in RESULTS.md, not here."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, expected", [
    ("training.py", ["ratio project / lesson:", "achieved", "GFLOP/s"]),
    ("evaluation.py", ["predictions identical: yes", "ratio project / lesson:"]),
    ("budget.py", ["samples seen", "plot: bench/budget-quick.png"]),
    ("inference.py", ["agrees", "chosen:", "per-headline latency, batch of 1"]),
    ("heads.py", ["validation mean", "chosen on validation:"]),
    ("sample_size.py", ["validation mean", "rows seeds"]),
    ("bottleneck.py", ["no attention,", "30 digits: expected"]),
])
def test_benchmark_smoke_run(script, expected):
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick"], capture_output=True,
                            text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "data: AG News offline variant" in result.stdout
    for text in expected:
        assert text in result.stdout, result.stdout
