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


def _hand_trees(base=0.1):
    """Two trees over features (a, b): a <= 0.5 -> -1; else b <= -2 -> 0.25, else 2; plus a
    leaf of 0.5."""
    return {"base": base, "feature_names": ["a", "b"], "trees": [
        {"feature": [0, -1, 1, -1, -1], "threshold": [0.5, 0, -2, 0, 0],
         "left": [1, -1, 3, -1, -1], "right": [2, -1, 4, -1, -1],
         "value": [0, -1, 0, 0.25, 2]},
        {"feature": [-1], "threshold": [0], "left": [-1], "right": [-1], "value": [0.5]}]}


def test_hand_built_trees_go_left_on_equal_values():
    trees = BoostedTrees.from_json(_hand_trees())
    x = [[0.5, 0.0], [0.6, -2.0], [0.6, -1.9], [-3.0, 9.0]]
    np.testing.assert_allclose(trees.raw(x), [-0.4, 0.85, 2.6, -0.4], rtol=0, atol=1e-15)
    assert trees.raw(np.zeros((0, 2))).shape == (0,)
    assert trees.trees[0]["threshold"].dtype == np.float64
    assert trees.trees[0]["left"].dtype == np.int64 and trees.feature_names == ("a", "b")
    for bad in (np.zeros(2), np.zeros((3, 3)), np.zeros((1, 1, 2))):
        with pytest.raises(ValueError, match=r"^expected \(n, 2\) features, got \("):
            trees.raw(bad)


def test_probability_is_the_logistic_of_the_raw_score_clipped_at_30():
    trees = BoostedTrees.from_json(_hand_trees())
    np.testing.assert_allclose(trees.probability([[0.6, -2.0]]), [1 / (1 + np.exp(-0.85))],
                               rtol=1e-15)
    with np.errstate(over="raise"):
        for base, expected in ((100.0, 1 / (1 + np.exp(-30.0))), (-1000.0, 1 / (1 + np.exp(30.0)))):
            assert BoostedTrees.from_json(_hand_trees(base)).probability([[0, 0]])[0] == expected


def test_json_keeps_thresholds_whole_and_rounds_leaf_values():
    data = _hand_trees()
    data["trees"][0]["threshold"][0] = 0.12345678901234567
    data["trees"][0]["value"][3] = 0.12345649
    out = BoostedTrees.from_json(data).to_json()
    assert json.loads(json.dumps(out)) == out
    first = out["trees"][0]
    assert first == {"feature": [0, -1, 1, -1, -1], "threshold": [0.12345678901234567, 0.0, -2.0,
                                                                  0.0, 0.0],
                     "left": [1, -1, 3, -1, -1], "right": [2, -1, 4, -1, -1],
                     "value": [0.0, -1.0, 0.0, 0.123456, 2.0]}
    assert all(type(v) is int for k in ("feature", "left", "right") for v in first[k])
    assert all(type(v) is float for k in ("threshold", "value") for v in first[k])
    assert out["base"] == 0.1 and out["feature_names"] == ["a", "b"] and len(out["trees"]) == 2


def _broken(change):
    data = _hand_trees()
    change(data)
    with pytest.raises(ModelError) as info:
        BoostedTrees.from_json(data)
    return str(info.value)


@pytest.mark.parametrize("change, reason", [
    (lambda d: d["trees"][0].update(left=[0, -1, 3, -1, -1]),
     "children must follow their parent within the tree"),  # a loop
    (lambda d: d["trees"][0].update(right=[2, -1, 2, -1, -1]),
     "children must follow their parent within the tree"),
    (lambda d: d["trees"][0].update(left=[1, -1, 5, -1, -1]),
     "children must follow their parent within the tree"),  # past the last node
    (lambda d: d["trees"][0].update(right=[5, -1, 4, -1, -1]),
     "children must follow their parent within the tree"),
    (lambda d: d["trees"][0].update(feature=[2, -1, 1, -1, -1]),
     "children must follow their parent within the tree"),  # a feature the rows lack
    (lambda d: d["trees"][1].update(value=[]), "node arrays of unequal length"),
    (lambda d: d["trees"][0].update(threshold=[0.5]), "node arrays of unequal length"),
    (lambda d: d["trees"].append({k: [] for k in d["trees"][0]}),
     "node arrays of unequal length"),  # an empty tree
    (lambda d: d["trees"][1].pop("right"), "'right'"),
    (lambda d: d.pop("feature_names"), "'feature_names'"),
    (lambda d: d.update(base="high"), "could not convert string to float: 'high'"),
])
def test_malformed_trees_are_named(change, reason):
    assert _broken(change) == f"the boosted-tree description is invalid ({reason})"


def test_leaves_may_point_anywhere_and_a_last_inner_node_may_use_the_last_feature():
    data = _hand_trees()
    data["trees"][0]["left"][1] = 0  # a leaf's children are never followed
    data["trees"][0]["right"][4] = 99
    trees = BoostedTrees.from_json(data)
    np.testing.assert_allclose(trees.raw([[1.0, -5.0]]), [0.85])


def test_only_binary_numeric_models_are_read():
    x, y = _data()
    three = GradientBoostingClassifier(n_estimators=2, max_depth=1).fit(
        x[:60], np.arange(60) % 3)
    with pytest.raises(ValueError, match="^only binary gradient boosting is supported$"):
        BoostedTrees.from_sklearn(three, ("a", "b", "c"))
    codes = np.c_[np.arange(200) % 4, x[:200, 1]]
    categorical = HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(
        codes, codes[:, 0] >= 2)
    with pytest.raises(ValueError, match="^categorical splits are not supported$"):
        BoostedTrees.from_sklearn(categorical, ("code", "b"))


def test_leaves_are_written_alike_for_both_layouts(fitted):
    model, _ = fitted
    trees = BoostedTrees.from_sklearn(model, ("a", "b", "c"))
    for tree in trees.trees:
        leaf = tree["feature"] < 0
        assert leaf.any() and (~leaf).any() and set(tree["feature"][leaf]) == {-1}
        assert (tree["left"][leaf] == -1).all() and (tree["right"][leaf] == -1).all()
        assert tree["feature"].dtype == tree["left"].dtype == tree["right"].dtype == np.int64
        assert tree["value"].dtype == tree["threshold"].dtype == np.float64
        if hasattr(model, "_predictors"):  # the histogram layout writes zeros where unused
            assert (tree["threshold"][leaf] == 0).all() and (tree["value"][~leaf] == 0).all()


def test_json_numbers_of_either_kind_are_read_as_the_layout_needs():
    data = _hand_trees()
    data["trees"][0].update(threshold=[1, 0, -2, 0, 0], feature=[0.0, -1, 1.0, -1, -1])
    data["trees"][1]["value"] = [1]
    trees = BoostedTrees.from_json(data)
    assert [t["threshold"].dtype for t in trees.trees] == [np.float64, np.float64]
    assert [t["value"].dtype for t in trees.trees] == [np.float64, np.float64]
    assert trees.trees[0]["feature"].dtype == np.int64
    np.testing.assert_allclose(trees.raw([[1.0, 0.0], [1.5, -2.0]]), [0.1, 1.35])
