"""The dataclasses flowing between stages."""

from __future__ import annotations

import numpy as np
import pytest

from garmentparse.structures import Detections


def test_detections_validates_lengths():
    with pytest.raises(ValueError, match="disagree"):
        Detections(np.zeros((2, 4)), np.zeros(1), ["top"], [{}], (4, 4))
