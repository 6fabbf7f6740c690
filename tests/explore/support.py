"""An in-process executor for tests: runs points here, optionally failing some."""

from accelsim.errors import TraceError
from accelsim.explore.executors import Finished, SweepExecutor
from accelsim.explore.task import run_point


class InProcess(SweepExecutor):
    """Runs each point in this process, in order; ``fail(point)`` -> True fails it."""

    label = "in-process"

    def __init__(self, fail=lambda point: False):
        self.fail, self.ran = fail, []

    def run(self, points):
        for point in points:
            self.ran.append(point.key)
            if self.fail(point):
                yield Finished(point, None, TraceError(f"{point.trace.label}: disk went away"))
            else:
                yield Finished(point, run_point(point), None)
