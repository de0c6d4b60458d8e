"""Comparing two ``tag`` runs: overlap, per-head agreement, accuracy against reviewed garments
with a paired bootstrap interval, detection AP, and the photos that changed most.

``compare_outputs(a, b, out_dir, truth=...)`` is ``garmentparse compare``; the steps are
:func:`read_run`, :func:`read_truth`, :func:`compare_runs` and the renderers in :mod:`.render`.
"""

from garmentparse.comparison.api import compare_outputs
from garmentparse.comparison.compare import (Accuracy, Agreement, CompareError, Comparison, LabelChange, Overlap,
                                             PhotoChange, RunSide, TruthResult, compare_runs)
from garmentparse.comparison.runs import Instance, ModelRef, Photo, Run, read_run, read_truth
from garmentparse.comparison.stats import bootstrap_difference, detection_ap

__all__ = ["Accuracy", "Agreement", "CompareError", "Comparison", "Instance", "LabelChange", "ModelRef", "Overlap",
           "Photo", "PhotoChange", "Run", "RunSide", "TruthResult", "bootstrap_difference", "compare_outputs",
           "compare_runs", "detection_ap", "read_run", "read_truth"]
