"""The container's featurization, as the extract Lambda and the writer import it.

The code lives in :mod:`retailsage.features.featurize` (shipped in the Lambda asset and the
image), so the Lambda and the image's ``featurize`` mode write the same objects.
"""

from __future__ import annotations

from retailsage.features.featurize import (
    ANOMALY_MODEL_TYPES,
    RECORD_ID,
    SHARDED_MODEL_TYPES,
    object_count,
)

__all__ = ["ANOMALY_MODEL_TYPES", "RECORD_ID", "SHARDED_MODEL_TYPES", "object_count"]
