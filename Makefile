# LabLens: `make run` opens the app, `make test` runs the whole suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint fuzz mutate demo-models demo-model-spectrum demo-model-cdc demo-model-soil screenshots clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/benchmarks -s -q -p no:randomly

lint: $(STAMP)
	$(PY) -m ruff check .

# Fuzz the file readers with hostile variants of every format (tests/fuzz): N cases per format,
# a table per format, every distinct failure minimised into tests/fuzz/cases/ as a regression
# test. `make test` runs a short smoke version. FORMATS=csv,hdf5 picks formats.
N ?= 2000
FORMATS ?= csv,spe,cnf,n42,hdf5,root
fuzz: $(STAMP)
	$(PY) -m tests.fuzz.runner --n $(N) --formats $(FORMATS) --minimise

# Mutation testing with mutmut (config in pyproject.toml), scoped to a package or a file:
# `make mutate MODULE=engines/core` or `MODULE=engines/core/metrics.py`. All of engines/ takes
# hours on 2 cores. Survivors: `mutmut results`; one of them: `mutmut show NAME`.
MODULE ?= engines
mutate: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/mutmut run "$(subst /,.,$(basename $(MODULE))).*"
	$(VENV)/bin/mutmut results

# Rebuild the bundled demo models from freshly generated sample data (see README).
demo-models: demo-model-spectrum demo-model-cdc demo-model-soil

# The spectrum demo model exactly as bundled: the synthetic materials12 library (seed 0), the
# CPU preset of the 1-D Inception-ResNet, RSM draws of 2000-200000 counts (the CLI's defaults),
# validated at 19650; about 18 min on one CPU core.
demo-model-spectrum: $(STAMP)
	$(PY) main.py spectrum sample --out /tmp/lablens_spectrum_train --library materials12 --seed 0
	OMP_NUM_THREADS=1 $(PY) main.py spectrum train --data /tmp/lablens_spectrum_train/materials12 --out resources/models/spectrum_demo --counts 2000:200000 --val-counts 19650 --steps 1200 --seed 0 --device cpu --half

# The CDC demo model exactly as bundled: 6000 synthetic events at 40 % occupancy (seed 1), U-Net
# with an EfficientNet-b0 encoder on the reduced 71x71 format at input 142; 5 epochs, then 4 more
# from those weights at a lower peak lr; about 2.5 h on one CPU core (OMP_NUM_THREADS=1 is also
# the fastest setting on a busy 2-core machine).
demo-model-cdc: $(STAMP)
	$(PY) main.py cdc sample --out /tmp/cdc_demo_train.h5 --events 6000 --occupancy 0.4 --seed 1
	OMP_NUM_THREADS=1 $(PY) main.py cdc train --data /tmp/cdc_demo_train.h5 --out /tmp/cdc_demo_stage1 --encoder efficientnet-b0 --epochs 5 --batch-size 8 --input-size 142 --format reduced --scaling limited --pos-weight 5 --device cpu --half
	OMP_NUM_THREADS=1 $(PY) main.py cdc train --data /tmp/cdc_demo_train.h5 --out resources/models/cdc_demo --init /tmp/cdc_demo_stage1 --encoder efficientnet-b0 --epochs 4 --lr 1e-3 --batch-size 8 --input-size 142 --format reduced --scaling limited --pos-weight 5 --device cpu --half

# The soil demo model exactly as bundled: 9 synthetic cores (forest, grassland, arable in turn;
# seed 0; 200 x 192 x 192 voxels, 6 cm cores), the light VGG on the porosity of object4 (the
# mineral-matrix band) per slice at 64 px, 80/20 split by slice, 24 epochs on one CPU core
# (the 150 min budget only guards a busy machine); its RMSE on 3 further cores (seed 1) is
# recorded in the sidecar. Runs through `python -m app.cli.soil` (the verbs of `main.py soil`).
demo-model-soil: $(STAMP)
	$(PY) -m app.cli.soil sample --out /tmp/lablens_soil_train --cores 9 --seed 0
	$(PY) -m app.cli.soil sample --out /tmp/lablens_soil_test --cores 3 --seed 1
	OMP_NUM_THREADS=1 nice -n 10 $(PY) -m app.cli.soil train --data /tmp/lablens_soil_train --test-data /tmp/lablens_soil_test --out resources/models/soil_demo --arch vgg_light --object 4 --input-size 64 --epochs 24 --patience 8 --minutes 150 --seed 0 --device cpu --half

screenshots: $(STAMP)
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m app.screenshots docs

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants
