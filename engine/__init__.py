"""PhotoCluster's engine: a plain library (no Qt) that the window and the command line both drive."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("photocluster")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
