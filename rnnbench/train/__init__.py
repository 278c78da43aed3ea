"""Training: length-bucketed batches, the paper's protocol, evaluation and the run record."""

from rnnbench.train.evaluate import SplitResult, evaluate
from rnnbench.train.progress import Progress, ProgressCallback
from rnnbench.train.trainer import train

__all__ = ["Progress", "ProgressCallback", "SplitResult", "evaluate", "train"]
