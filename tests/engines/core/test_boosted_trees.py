"""The JSON tree ensemble gives scikit-learn's decisions, survives JSON, refuses bad trees."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier

from engines.core.boosted_trees import BoostedTrees
from engines.core.errors import ModelError


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * rng.normal(size=400)) > 0.5
    return x, y


@pytest.fixture(scope="module", params=["gradient", "histogram"])
def fitted(request):
    x, y = _data()
    if request.param == "gradient":
        model = GradientBoostingClassifier(n_estimators=20, max_depth=3, subsample=0.7,
                                           random_state=0)
    else:  # uneven trees (leaf count, not depth, bounds them), weighted rows
        model = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=11, max_depth=5,
                                               learning_rate=0.2, early_stopping=False)
    return model.fit(x, y, sample_weight=np.where(y, 1.0, 3.0)), x


def test_same_decisions_as_sklearn_and_after_json(fitted):
    model, x = fitted
    trees = BoostedTrees.from_sklearn(model, ("a", "b", "c"))
    np.testing.assert_allclose(trees.raw(x), model.decision_function(x), atol=1e-9)
    np.testing.assert_allclose(trees.probability(x), model.predict_proba(x)[:, 1], atol=1e-9)
    again = BoostedTrees.from_json(json.loads(json.dumps(trees.to_json())))
    np.testing.assert_allclose(again.raw(x), trees.raw(x), atol=1e-4)
    with pytest.raises(ValueError, match="features"):
        trees.raw(x[:, :2])


def test_malformed_descriptions_are_model_errors(fitted):
    data = BoostedTrees.from_sklearn(fitted[0], ("a", "b", "c")).to_json()
    for broken in ({k: v for k, v in data.items() if k != "base"},
                   {**data, "trees": [{**data["trees"][0], "left": [0] * len(
                       data["trees"][0]["left"])}]},            # a loop would never end
                   {**data, "feature_names": ["a"]},            # a feature the rows lack
                   {**data, "trees": [{**data["trees"][0], "value": [1.0]}]}):
        with pytest.raises(ModelError, match="boosted-tree"):
            BoostedTrees.from_json(broken)
