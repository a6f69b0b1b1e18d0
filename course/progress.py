"""Progress that a stored notebook still reads correctly: live while it runs, one plain line when done.

tqdm's notebook widget stores the text of its first frame ("0%|          | 0/600") beside the widget, and
that is what GitHub, nbviewer and a static export show: the training looks as if it never ran. ``progress``
shows tqdm's text line in one display that it updates in place (at most twice a second) and, when the loop
ends, replaces it with a plain summary such as "attention: 600/600 steps in 40 s"; the stored notebook keeps
only that line. Outside a notebook kernel it is tqdm's usual bar on stderr, followed by the same summary.
"""
import sys
import time

from course.i18n import tr

UPDATE_SECONDS = 0.5


def _in_kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Progress:
    """A counter of ``total`` steps, shown as it advances; ``close`` leaves the summary line."""

    def __init__(self, total, desc="", unit=None, initial=0, disable=False):
        self.total, self.desc, self.n, self.disable = total, desc, initial, disable
        self.unit = unit or tr("steps")
        self.initial, self.postfix = initial, ""
        self.started = self._shown_at = time.perf_counter()
        self._handle = self._bar = None
        if disable:
            return
        if _in_kernel():
            from IPython.display import display

            self._handle = display({"text/plain": self._line()}, raw=True, display_id=True)
        else:
            from tqdm.std import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, file=sys.stderr)

    def _line(self):
        from tqdm.std import tqdm

        line = tqdm.format_meter(self.n, self.total, time.perf_counter() - self.started, prefix=self.desc,
                                 initial=self.initial)
        return f"{line} {self.postfix}".rstrip()

    def update(self, steps=1):
        self.n += steps
        if self._bar is not None:
            self._bar.update(steps)
        elif self._handle is not None and time.perf_counter() - self._shown_at >= UPDATE_SECONDS:
            self._handle.update({"text/plain": self._line()}, raw=True)
            self._shown_at = time.perf_counter()

    def set_postfix(self, **values):
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def summary(self):
        """The plain line that stays: what ran, how much of it, how long it took."""
        return tr("{desc}: {done}/{total} {unit} in {seconds:.0f} s", desc=self.desc, done=self.n,
                  total=self.total, unit=self.unit, seconds=time.perf_counter() - self.started)

    def close(self):
        if self.disable:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            print(self.summary(), file=sys.stderr)
        elif self._handle is not None:
            self._handle.update({"text/plain": self.summary()}, raw=True)
            self._handle = None
        self.disable = True


def progress(iterable, desc="", total=None, unit=None, disable=False):
    """Iterate over ``iterable`` with a ``Progress`` (``total`` from ``len`` where not given)."""
    bar = Progress(len(iterable) if total is None else total, desc=desc, unit=unit, disable=disable)
    try:
        for item in iterable:
            yield item
            bar.update()
    finally:
        bar.close()
