"""course/progress.py: live progress that leaves one plain line, in a kernel and in a terminal."""
import re

from course import progress as progress_module
from course.progress import Progress, progress


def test_a_terminal_gets_tqdm_and_the_summary(capsys):
    assert list(progress(range(4), desc="demo")) == [0, 1, 2, 3]
    err = capsys.readouterr().err
    assert "100%|" in err and re.search(r"demo: 4/4 steps in \d+ s\n$", err)


def test_a_notebook_keeps_only_the_summary(monkeypatch):
    shown = []

    class Handle:
        def update(self, data, raw):
            shown[-1] = data["text/plain"]

    def display(data, raw, display_id):
        assert raw and display_id
        shown.append(data["text/plain"])
        return Handle()

    monkeypatch.setattr(progress_module, "_in_kernel", lambda: True)
    monkeypatch.setattr(progress_module, "UPDATE_SECONDS", 0.0)
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    bar = Progress(600, desc="attention")
    bar.update(300)
    assert "300/600" in shown[-1]  # live: tqdm's text line
    bar.update(300)
    bar.close()
    assert len(shown) == 1 and re.fullmatch(r"attention: 600/600 steps in \d+ s", shown[0])


def test_disabled_shows_nothing(capsys):
    assert list(progress([1, 2], desc="quiet", disable=True)) == [1, 2]
    assert capsys.readouterr() == ("", "")
