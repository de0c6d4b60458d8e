"""Closing the loop: the catalogue's reviewed garments back into training (``garmentparse retrain``)."""

from garmentparse.retraining.data import (ReviewedSplit, TrainingData, side_of, split_reviewed,
                                          write_training_data)
from garmentparse.retraining.truth import decisions_for, review_with_truth, truth_by_photo
from garmentparse.retraining.retrain import (RetrainError, RetrainResult, RetrainSettings, retrain,
                                             sources_by_task)

__all__ = ["RetrainError", "RetrainResult", "RetrainSettings", "ReviewedSplit", "TrainingData", "decisions_for", "retrain",
           "review_with_truth", "side_of", "sources_by_task", "split_reviewed", "truth_by_photo", "write_training_data"]
