"""A gradient-boosted tree ensemble that lives in a model's JSON sidecar.

Fitted with scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier` or
:class:`~sklearn.ensemble.GradientBoostingClassifier` (binary, log-loss; their fitted node
arrays), evaluated here with numpy alone, so that a loaded
model needs neither scikit-learn nor pickles: the ensemble is plain lists of numbers.

Raw score ``base + Σ_t value_t(x)``, probability ``1 / (1 + e^−raw)``. Each tree is stored as
parallel node arrays: ``feature`` (−1 at a leaf), ``threshold`` (go left when
``x[feature] <= threshold``, scikit-learn's rule), ``left``, ``right`` and ``value`` (the
leaf's contribution, learning rate included). Thresholds are stored at full precision: a
histogram split can sit exactly on a sample's value, and a rounded one would send it the other
way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.core.errors import ModelError

_ARRAYS = ("feature", "threshold", "left", "right", "value")


def _histogram_trees(model) -> list[dict[str, np.ndarray]]:
    """Node arrays of a ``HistGradientBoostingClassifier`` (its leaf values are already
    shrunk by the learning rate)."""
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ValueError("categorical splits are not supported")
        leaf = nodes["is_leaf"].astype(bool)
        trees.append({"feature": np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64),
                      "threshold": np.where(leaf, 0.0, nodes["num_threshold"]),
                      "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
                      "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
                      "value": np.where(leaf, nodes["value"], 0.0)})
    return trees


def _classic_trees(model) -> list[dict[str, np.ndarray]]:
    """Node arrays of a ``GradientBoostingClassifier`` (leaf values times the learning rate)."""
    rate = float(model.learning_rate)
    trees = []
    for estimator in model.estimators_[:, 0]:
        tree = estimator.tree_
        trees.append({"feature": np.where(tree.children_left < 0, -1,
                                          tree.feature).astype(np.int64),
                      "threshold": tree.threshold.astype(np.float64),
                      "left": tree.children_left.astype(np.int64),
                      "right": tree.children_right.astype(np.int64),
                      "value": rate * tree.value[:, 0, 0].astype(np.float64)})
    return trees


#: How each node array is written to JSON: thresholds at full precision, leaf values to 6
#: decimals, indices as integers.
_JSON_NUMBER = {"feature": int, "left": int, "right": int, "threshold": float,
                "value": lambda v: round(float(v), 6)}


@dataclass(frozen=True)
class BoostedTrees:
    """A binary tree ensemble; see the module docstring for the layout."""

    base: float
    trees: tuple[dict[str, np.ndarray], ...]
    feature_names: tuple[str, ...]

    @classmethod
    def from_sklearn(cls, model, feature_names: tuple[str, ...]) -> BoostedTrees:
        """From a fitted binary ``HistGradientBoostingClassifier`` or
        ``GradientBoostingClassifier`` (log-loss, numerical features without missing values)."""
        if len(model.classes_) != 2:
            raise ValueError("only binary gradient boosting is supported")
        trees = _histogram_trees(model) if hasattr(model, "_predictors") else \
            _classic_trees(model)
        probe = np.zeros((1, model.n_features_in_))
        partial = cls(0.0, tuple(trees), tuple(feature_names))
        base = float(model.decision_function(probe)[0] - partial.raw(probe)[0])
        return cls(base, tuple(trees), tuple(feature_names))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds) of rows ``x`` (n, n_features)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected (n, {len(self.feature_names)}) features, got {x.shape}")
        out = np.full(len(x), self.base)
        rows = np.arange(len(x))
        for tree in self.trees:
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                feature = tree["feature"][node]
                inner = feature >= 0
                if not inner.any():
                    break
                at = node[inner]
                go_left = x[rows[inner], feature[inner]] <= tree["threshold"][at]
                node[inner] = np.where(go_left, tree["left"][at], tree["right"][at])
            out += tree["value"][node]
        return out

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.raw(x), -30.0, 30.0)))

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "feature_names": list(self.feature_names),
                "trees": [{k: [_JSON_NUMBER[k](v) for v in tree[k]] for k in _ARRAYS}
                          for tree in self.trees]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BoostedTrees:
        """From :meth:`to_json`; ModelError when the description is malformed."""
        try:
            names = tuple(str(n) for n in data["feature_names"])
            trees = []
            for tree in data["trees"]:
                arrays = {k: np.asarray(tree[k], dtype=np.float64 if k in ("threshold", "value")
                                        else np.int64) for k in _ARRAYS}
                n = len(arrays["feature"])
                if n == 0 or any(len(a) != n for a in arrays.values()):
                    raise ValueError("node arrays of unequal length")
                inner = arrays["feature"] >= 0
                if (arrays["feature"] >= len(names)).any() or not (
                        (arrays["left"][inner] > np.flatnonzero(inner)).all()
                        and (arrays["right"][inner] > np.flatnonzero(inner)).all()
                        and (arrays["left"][inner] < n).all()
                        and (arrays["right"][inner] < n).all()):
                    raise ValueError("children must follow their parent within the tree")
                trees.append(arrays)
            return cls(float(data["base"]), tuple(trees), names)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the boosted-tree description is invalid ({exc})") from None
