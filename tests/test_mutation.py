"""The scoped mutation runner's configuration (``tests/mutation.py``); no mutmut run here."""

import tomllib

from tests import mutation


def test_every_scope_names_existing_files():
    for module, tests in mutation.SCOPES.items():
        assert (mutation.ROOT / module).is_file(), module
        for test in tests:
            assert (mutation.ROOT / test).is_file(), test


def test_slow_tests_left_out_exist():
    for node in mutation.SLOW:
        path, name = node.split("::")
        assert f"def {name}(" in (mutation.ROOT / path).read_text(), node


def test_the_scratch_config_mutates_one_module_with_its_own_tests(tmp_path):
    (tmp_path / "mutants").mkdir()
    for pyproject in (tmp_path / "pyproject.toml", tmp_path / "mutants" / "pyproject.toml"):
        pyproject.write_text("stale")
    module = "engines/core/review_items.py"
    mutation._configure(tmp_path, module, mutation.SCOPES[module])
    for pyproject in (tmp_path / "pyproject.toml", tmp_path / "mutants" / "pyproject.toml"):
        config = tomllib.loads(pyproject.read_text())
        own = config["tool"]["mutmut"]
        assert own["only_mutate"] == [module] and own["source_paths"] == ["engines"]
        selection = own["pytest_add_cli_args_test_selection"]
        assert selection[:3] == mutation.SCOPES[module]
        assert selection[3::2] == ["--deselect"] * len(mutation.SLOW)
        assert selection[4::2] == list(mutation.SLOW)
        assert "-x" in own["pytest_add_cli_args"]
        assert config["project"]["name"]  # the rest of pyproject.toml is kept


def test_a_rerun_counts_the_mutants_it_left_alone_as_before():
    current = {"a": "killed", "b": "survived", "c": "not checked", "d": "not checked",
               "e": "timeout"}
    # first rerun of b and e after a full run without statuses.json: c and d were killed
    assert mutation.merge(current, {}, {"b", "e"}) == {
        "a": "killed", "b": "survived", "c": "killed", "d": "killed", "e": "timeout"}
    # a later rerun keeps what statuses.json says of those it did not check
    assert mutation.merge(current, {"c": "survived", "d": "timeout"}, {"a", "b", "e"}) == {
        "a": "killed", "b": "survived", "c": "survived", "d": "timeout", "e": "timeout"}
    # a full run (or a mutant the rerun was asked to check) never borrows a status
    assert mutation.merge(current, {"c": "killed"}, None)["c"] == "not checked"
    assert mutation.merge(current, {"c": "killed"}, {"c"})["c"] == "not checked"
    counts = mutation.counts_of(mutation.merge(current, {"d": "no tests"}, {"b", "e"}))
    assert counts == {"mutants": 5, "killed": 2, "timeout": 1, "survived": 1, "no_tests": 1,
                      "other": 0}
    assert mutation.counts_of(current)["other"] == 2
