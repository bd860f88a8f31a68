"""Progress reports, drive/relay/forward and the name registries, with exact values."""

from __future__ import annotations

import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress, drive, forward, relay
from engines.core.registry import Registry, lookup


def _task(result="done"):
    yield Progress(0.5, "half", loss=0.3)
    yield "not a report"
    yield Progress(1.0)
    return result


def test_progress_clips_and_keeps_what_it_is_given():
    assert Progress(1.5).fraction == 1.0 and Progress(-0.2).fraction == 0.0
    report = Progress(0.25, loss=1.5)
    assert report.message == "" and report.metrics == {"loss": 1.5}
    assert repr(Progress(0.5, "step 2", n=3)) == "Progress(0.500, 'step 2', {'n': 3})"


def test_drive_hands_every_report_over_and_returns_the_result():
    seen = []
    assert drive(_task(), seen.append) == "done"
    assert [getattr(r, "fraction", r) for r in seen] == [0.5, "not a report", 1.0]
    assert drive(_task("quiet")) == "quiet"


def test_forward_maps_fractions_and_prefixes_messages():
    seen = []
    assert drive(forward(_task(), start=0.2, span=0.5, prefix="fit: "), seen.append) == "done"
    assert seen[0].fraction == pytest.approx(0.45) and seen[0].message == "fit: half"
    assert seen[0].metrics == {"loss": 0.3} and seen[1] == "not a report"
    assert seen[2].fraction == pytest.approx(0.7) and seen[2].message == "fit: "
    plain = []
    drive(forward(_task()), plain.append)
    assert [plain[0].fraction, plain[2].fraction] == [0.5, 1.0]


def test_closing_a_relay_closes_its_task():
    closed = []

    def task():
        try:
            yield Progress(0.1)
            yield Progress(0.2)
        finally:
            closed.append(True)

    outer = relay(task(), lambda r: r)
    next(outer)
    outer.close()
    assert closed == [True]


def test_lookup_and_registry_name_the_valid_choices():
    with pytest.raises(InputError) as error:
        lookup({"lung": 1, "bone": 2}, "x", "window preset")
    assert str(error.value) == "unknown window preset 'x'; valid names: lung, bone"
    models = Registry("model")
    assert models.kind == "model" and "tiny" not in models

    @models.register("tiny")
    def make(*args, **kwargs):
        return args, kwargs

    assert "tiny" in models and models.names() == ["tiny"]
    assert models.create("tiny", 1, 2, depth=3) == ((1, 2), {"depth": 3})
    with pytest.raises(ValueError) as error:
        models.register("tiny")(make)
    assert str(error.value) == "model 'tiny' registered twice"
    with pytest.raises(InputError) as error:
        models.get("huge")
    assert str(error.value) == "unknown model 'huge'; valid names: tiny"
