"""The catalogue database: tag runs, photos, garments, predictions, reviews, users.

``Store.upgrade(url)`` creates or migrates; ``Store.open(url)`` opens a migrated one. Every
method runs its own short transaction and returns plain dataclasses (:mod:`.records`).
"""

from garmentparse.store.api import QUEUE_ORDERS, Store, check_label, garment_state, normalise_name
from garmentparse.store.db import DEFAULT_URL, SchemaOutdated, resolve_url
from garmentparse.store.models import CONFIRMED, CORRECTED, PART_HEAD, PREDICTED, REJECTED, ROLES, STATES
from garmentparse.store.records import (Comparison, CorrectionInfo, Dashboard, Decision, GalleryFilter,
                                        GarmentDetail, GarmentMatchInfo, GarmentSummary, HeadAccuracy, HeadValue,
                                        MatchCounts, NotFound, Page, PhotoComparison, PhotoInfo, ProductInfo,
                                        ReviewConflict, ReviewedPhoto, RunAccuracy, RunInfo, UserInfo)

__all__ = ["CONFIRMED", "CORRECTED", "DEFAULT_URL", "PART_HEAD", "PREDICTED", "QUEUE_ORDERS", "REJECTED", "ROLES",
           "STATES", "Comparison", "CorrectionInfo", "Dashboard", "Decision", "GalleryFilter", "GarmentDetail",
           "GarmentMatchInfo", "GarmentSummary", "HeadAccuracy", "HeadValue", "MatchCounts", "NotFound", "Page",
           "PhotoComparison", "PhotoInfo", "ProductInfo", "ReviewConflict", "ReviewedPhoto", "RunAccuracy", "RunInfo",
           "SchemaOutdated", "Store", "UserInfo", "check_label", "garment_state", "normalise_name", "resolve_url"]
