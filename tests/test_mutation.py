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
