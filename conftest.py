"""Pytest set-up shared by the unit tests and the notebook checks (tests/conftest.py holds the fixtures)."""
import os


def pytest_report_header(config):
    # Notebook kernels inherit this environment, so they run with the thread count shown here. `make test`
    # checks the notebooks at two thread counts: round-off that differs between them must not reach a
    # compared output.
    import torch

    return (f"torch {torch.__version__}: {torch.get_num_threads()} intra-op thread(s) "
            f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
            f"COURSE_QUICK={os.environ.get('COURSE_QUICK', 'unset')}")
