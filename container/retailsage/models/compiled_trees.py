"""A compiled, bit-identical predictor for the XGBoost boosters this project trains.

XGBoost's CPU predictor walks each tree with data-dependent branches and costs ~15-35 ns per
(tree, row) single-threaded, plus ~0.3 ms of fixed overhead per call. :class:`CompiledTrees`
flattens a booster's trees once (from its own JSON dump: plain data, nothing executed) into
arrays that the C extension ``retailsage.models._treewalk`` walks branch-free, a block of rows
per tree: about 2x faster than ``Booster.inplace_predict`` on 1,000 rows of 200 depth-6 trees
and ~25x for one row (benchmarks/tree_predictor.py; figures in docs/models.md).

The result is the same float32 arithmetic XGBoost does (float32 features, go left iff
``x < split``, NaN follows the default direction, leaf values summed in tree order from the base
margin), so predictions are bit-identical; tests/models/test_compiled_trees.py checks that
against ``inplace_predict`` on random, NaN, infinite and exact-split inputs.

Only what that argument covers is compiled: ``gbtree`` boosters with numerical splits, one
target and an identity-link regression objective. Anything else (and any environment without
the extension, or with ``RETAILSAGE_COMPILED_TREES=0``) gets ``None`` from
:meth:`CompiledTrees.from_booster`, and the caller keeps XGBoost's own predictor.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import xgboost as xgb

_treewalk: ModuleType | None
try:  # built by `pip install .` (setup.py); optional, so a missing compiler is not fatal
    from retailsage.models import _treewalk
except ImportError:  # pragma: no cover - depends on the build
    _treewalk = None

LOGGER = logging.getLogger(__name__)

SWITCH_ENV = "RETAILSAGE_COMPILED_TREES"
"""Set to ``0`` to keep XGBoost's predictor everywhere."""

IDENTITY_OBJECTIVES = frozenset({"reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"})
"""Objectives whose prediction is the raw margin (no link function to apply)."""

NODE_DTYPE = np.dtype(
    [("feature", "=i4"), ("cond", "=f4"), ("left", "=i4"), ("default_left", "=i4")]
)
"""One node as the C walker reads it (16 bytes, no padding)."""


class Unsupported(ValueError):
    """The booster uses something the compiled walker does not reproduce exactly."""


@dataclass(frozen=True)
class CompiledTrees:
    """A booster flattened for ``_treewalk``.

    Attributes:
        nodes: every tree's nodes, children adjacent, leaves looping to themselves.
        values: leaf values, parallel to ``nodes`` (0 on internal nodes).
        roots: each tree's first node.
        depths: each tree's depth (the number of walk steps).
        base_margin: the float32 start of every sum.
        n_features: the matrix width the booster was trained on.
    """

    nodes: np.ndarray
    values: np.ndarray
    roots: np.ndarray
    depths: np.ndarray
    base_margin: np.float32
    n_features: int

    @classmethod
    def from_booster(cls, booster: xgb.Booster) -> CompiledTrees | None:
        """Compile ``booster`` when the extension is present, enabled and exact for it.

        Args:
            booster: a fitted booster.

        Returns:
            The compiled predictor, or None (use ``booster.inplace_predict``); the reason is
            logged (INFO, or WARNING for a dump layout this module does not know).
        """
        if _treewalk is None:
            LOGGER.info("compiled trees unavailable (extension not built); using xgboost")
            return None
        if os.environ.get(SWITCH_ENV, "1").strip().lower() in ("0", "false", "no"):
            LOGGER.info("compiled trees disabled by %s; using xgboost", SWITCH_ENV)
            return None
        try:
            return cls.from_dump(json.loads(booster.save_raw("json")))
        except Unsupported as exc:
            LOGGER.info("compiled trees not used: %s; using xgboost", exc)
        except (KeyError, TypeError, ValueError) as exc:  # a dump layout this code does not know
            LOGGER.warning("compiled trees not used (unexpected dump: %r); using xgboost", exc)
        return None

    @classmethod
    def from_dump(cls, dump: dict[str, Any]) -> CompiledTrees:
        """Flatten an XGBoost JSON model dump.

        Args:
            dump: ``json.loads(booster.save_raw("json"))``.

        Returns:
            The compiled predictor.

        Raises:
            Unsupported: another booster type, objective, split type or target layout.
        """
        learner = dump["learner"]
        objective = learner["objective"]["name"]
        if objective not in IDENTITY_OBJECTIVES:
            raise Unsupported(f"objective {objective} has a link function")
        booster = learner["gradient_booster"]
        if booster["name"] != "gbtree":
            raise Unsupported(f"booster {booster['name']} is not gbtree")
        param = learner["learner_model_param"]
        if int(param.get("num_target", "1")) != 1 or int(param.get("num_class", "0")) != 0:
            raise Unsupported("more than one target")
        n_features = int(param["num_feature"])
        base = np.float32(float(str(param["base_score"]).strip("[]").split(",")[0]))
        trees = booster["model"]["trees"]
        if any(int(info) != 0 for info in booster["model"]["tree_info"]):
            raise Unsupported("trees for several outputs")
        flat = [_flatten(tree, n_features) for tree in trees]
        sizes = np.array([len(nodes) for nodes, _, _ in flat], dtype=np.int64)
        if sizes.sum() >= np.iinfo(np.int32).max:
            raise Unsupported("too many nodes")
        return cls(
            nodes=np.concatenate([_nodes(0), *(nodes for nodes, _, _ in flat)]),
            values=np.concatenate([np.zeros(0), *(v for _, v, _ in flat)]).astype(np.float32),
            roots=(np.cumsum(sizes) - sizes).astype(np.int32),
            depths=np.array([depth for _, _, depth in flat], dtype=np.int32),
            base_margin=base,
            n_features=n_features,
        )

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self.roots.size)

    @property
    def splits_per_tree(self) -> float:
        """Mean internal nodes per tree (a binary tree has one leaf more than it has splits)."""
        return (self.nodes.size - self.n_trees) / 2 / self.n_trees if self.n_trees else 0.0

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predict margins exactly as ``Booster.inplace_predict`` would.

        Args:
            matrix: ``[n, n_features]`` float32 or float64 (NaN = missing).

        Returns:
            float32 margins, one per row.

        Raises:
            ValueError: the matrix is not 2-D with ``n_features`` columns.
        """
        with np.errstate(over="ignore"):  # beyond float32's range: +-inf, as xgboost casts
            x = np.ascontiguousarray(matrix, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"expected a [n, {self.n_features}] matrix, got shape {tuple(matrix.shape)}"
            )
        out = np.full(x.shape[0], self.base_margin, dtype=np.float32)
        assert _treewalk is not None  # from_booster only builds instances when it is present
        _treewalk.predict(self.nodes, self.values, self.roots, self.depths, x, self.n_features, out)
        return out


def _nodes(count: int) -> np.ndarray:
    """An empty node array of ``count`` entries."""
    return np.zeros(count, dtype=NODE_DTYPE)


def _flatten(tree: dict[str, Any], n_features: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Renumber one tree breadth-first (children adjacent) and return (nodes, values, depth).

    Raises:
        Unsupported: categorical splits, vector leaves, or a malformed tree.
    """
    if any(int(kind) != 0 for kind in tree.get("split_type", [])) or tree.get("categories"):
        raise Unsupported("categorical splits")
    if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
        raise Unsupported("vector leaves")
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    order, level, seen = [0], [0], {0}
    for at, node in enumerate(order):  # grows while iterating: a breadth-first walk
        if left[node] != -1:
            children = (int(left[node]), int(right[node]))
            if any(c in seen or not 0 <= c < left.size for c in children):
                raise Unsupported("a malformed tree (a child out of range or reached twice)")
            seen.update(children)
            order += children
            level += [level[at] + 1, level[at] + 1]
    walk = np.asarray(order, dtype=np.int64)
    position = np.full(left.size, -1, dtype=np.int64)
    position[walk] = np.arange(walk.size)
    leaf = left[walk] == -1
    features = np.asarray(tree["split_indices"], dtype=np.int64)[walk]
    conditions = np.asarray(tree["split_conditions"], dtype=np.float64)[walk]
    if np.any((features[~leaf] < 0) | (features[~leaf] >= n_features)):
        raise Unsupported(f"a split on a feature outside 0..{n_features - 1}")
    nodes = _nodes(walk.size)
    nodes["feature"] = np.where(leaf, 0, features)
    nodes["cond"] = np.where(leaf, np.nan, conditions)  # a leaf compares false: stays put
    nodes["left"] = np.where(leaf, np.arange(walk.size), position[np.maximum(left[walk], 0)])
    nodes["default_left"] = np.where(leaf, 1, np.asarray(tree["default_left"])[walk])
    return nodes, np.where(leaf, conditions, 0.0), max(level)
