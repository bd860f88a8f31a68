"""One description of each parameter drives the form and the CLI: a config survives
form -> config -> command line -> config unchanged, for every engine config."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from app.cli.common import add_config_args, config_from_args
from engines.cdc.images import ImageConfig
from engines.cdc.peer import PeerConfig
from engines.cdc.training import TrainConfig as CdcTrain
from engines.core.config import base_type, field_types
from engines.core.errors import InputError
from engines.spectrum.evaluation import EvaluateConfig
from engines.spectrum.live import LiveConfig
from engines.spectrum.preprocessing import PreprocessConfig
from engines.spectrum.training import TrainConfig as SpectrumTrain
from widgets.common.config_form import ConfigForm

EDITED = [
    CdcTrain(encoder="efficientnet-b1", epochs=7, batch_size=12, lr=2e-3, weight_decay=5e-4,
             ema_decay=0.99, pos_weight=3.5, seed=4, max_minutes=12.5, patience=2),
    ImageConfig(format="normal", input_size=160, hit_selection="first", scaling="limited",
                bits=8, delta_phi=False),
    PeerConfig(max_iter=50, learning_rate=0.2, max_leaf_nodes=16, time_window_ns=50.0, seed=3),
    SpectrumTrain(arch="small_cnn", counts=(3000, 90_000), steps=300, batch_size=64,
                  lr=0.003, val_every=20, val_draws=10, seed=2, gain_drift=0.002,
                  target_accuracy=0.97, max_minutes=5.0),
    EvaluateConfig(counts=(100, 2000), draws_per_class=7, seed=9, peers=("ml", "chi2")),
    LiveConfig(rate_cps=12345.0, update_interval_s=0.25, max_live_time_s=12.0, threshold=0.9,
               seed=5, realtime=True),
    PreprocessConfig(discard=[(0, 50), (9000, 16384)], normalisation="sqrt",
                     coord_channel=True),
]


def _argv(config) -> list[str]:
    """The command line that sets every CLI field of ``config`` to its value."""
    argv = []
    hints = field_types(type(config))
    for field in dataclasses.fields(config):
        meta = field.metadata
        if not meta.get("cli", True):
            continue
        value = getattr(config, field.name)
        flag = "--" + meta.get("flag", field.name.replace("_", "-"))
        kind, _ = base_type(hints[field.name])
        if kind is bool:
            if value != field.default:
                argv.append("--no-" + flag[2:] if field.default else flag)
            continue
        if value is None:
            continue
        argv += [flag, meta["format"](value) if "format" in meta else str(value)]
    return argv


@pytest.mark.parametrize("config", EDITED, ids=lambda c: type(c).__module__ + "." +
                         type(c).__name__)
def test_form_config_cli_round_trip(qtbot, config):
    form = ConfigForm(type(config)())
    qtbot.addWidget(form)
    form.set_value(config)
    assert form.value() == config
    parser = argparse.ArgumentParser()
    add_config_args(parser, type(config))
    cli_fields = {f.name for f in dataclasses.fields(config) if f.metadata.get("cli", True)}
    rebuilt = config_from_args(parser.parse_args(_argv(config)), type(config))
    for field in dataclasses.fields(config):
        if field.name in cli_fields:
            assert getattr(rebuilt, field.name) == getattr(config, field.name), field.name
    assert config_from_args(parser.parse_args([]), type(config)) == type(config)()


def test_form_editors_carry_the_metadata(qtbot):
    form = ConfigForm(CdcTrain())
    qtbot.addWidget(form)
    epochs = form.editors["epochs"]
    assert (epochs.minimum(), epochs.maximum()) == (1, 1000)
    encoder = form.editors["encoder"]
    assert [encoder.itemText(i) for i in range(encoder.count())][:2] == [
        "efficientnet-b0", "efficientnet-b1"]
    label = form.layout().labelForField(form.editors["max_minutes"]).text()
    assert label == "Time budget (min)"
    assert not form.editors["max_minutes"].check.isChecked()  # optional: off means None


def test_help_shows_label_range_unit_and_default():
    parser = argparse.ArgumentParser()
    add_config_args(parser, LiveConfig)
    text = parser.format_help()
    assert "--rate" in text and "Count rate" in text and "counts/s" in text
    assert "Decision confidence" in text and "0.5–1" in text and "(default: 0.95)" in text


def test_a_bad_text_value_is_one_input_error():
    parser = argparse.ArgumentParser()
    add_config_args(parser, SpectrumTrain)
    with pytest.raises(InputError, match="counts per draw"):
        config_from_args(parser.parse_args(["--counts", "ten"]), SpectrumTrain)
