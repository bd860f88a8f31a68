# LabLens: `make run` opens the app, `make test` runs the whole suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint fuzz mutate demo-models demo-model-spectrum demo-model-cdc demo-model-cdc-fit demo-model-sem demo-model-soil demo-model-nodules screenshots clean

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
# test. `make test` runs a short smoke version. FORMATS=csv,hdf5 picks formats; a format's
# cases are the same in a run of it alone. The runner's --failures FILE lists every failing
# case and --indices 195,723 re-runs chosen ones after a fix.
N ?= 2000
FORMATS ?= csv,spe,cnf,n42,hdf5,root,specutils,dicom,nifti,metaimage,tiff,review,model,micrograph,semlabel,semset,luna16
fuzz: $(STAMP)
	$(PY) -m tests.fuzz.runner --n $(N) --formats $(FORMATS) --minimise

# Mutation testing with mutmut, one module at a time against its own tests (tests/mutation.py
# SCOPES): `make mutate MODULE=engines/core/metrics.py`, or a package `MODULE=engines/core`
# (each of its scoped modules). Prints a table row per module; survivors are listed in the
# scratch folder it names (`mutmut show NAME` there). A few minutes per module on 2 cores.
MODULE ?= engines/core
mutate: $(STAMP)
	$(PY) -m tests.mutation $(MODULE)

# Rebuild the bundled demo models from freshly generated sample data (see README).
demo-models: demo-model-spectrum demo-model-cdc demo-model-sem demo-model-soil demo-model-nodules

# The spectrum demo model exactly as bundled: the synthetic materials12 library (seed 0), the
# CPU preset of the 1-D Inception-ResNet, RSM draws of 2000-200000 counts, validated at 19650,
# 1200 steps (a generous --minutes keeps the schedule on the steps, so the weights do not depend
# on the machine's speed); about 18 min on one idle CPU core. Then the ML fallback level and the
# open-set test are calibrated on the stored fp16 weights (`spectrum calibrate`, seed 0).
demo-model-spectrum: $(STAMP)
	$(PY) main.py spectrum sample --out /tmp/lablens_spectrum_train --library materials12 --seed 0
	OMP_NUM_THREADS=1 $(PY) main.py spectrum train --data /tmp/lablens_spectrum_train/materials12 --out resources/models/spectrum_demo --counts 2000:200000 --val-counts 19650 --steps 1200 --minutes 600 --seed 0 --device cpu --half --no-likelihood-head --no-hybrid --no-open-set
	OMP_NUM_THREADS=1 $(PY) main.py spectrum calibrate --model resources/models/spectrum_demo --data /tmp/lablens_spectrum_train/materials12 --out resources/models/spectrum_demo --seed 0 --device cpu

# The CDC demo model as bundled: a light U-Net of width 16 on the reduced 71x71 format, trained
# on fresh calibrated synthetic events (20-60 % occupancy, 85 % with a signal track, half shown
# without trigger times), 30 epochs of 800 events (1500 steps of 16), seed 0; the track fit is
# tuned on its 300 validation events. 30 min measured on the shared 2-core machine (1.2 s a step;
# 0.55 s at its quietest, so about 15 min on a free core; OMP_NUM_THREADS=1 is fastest there).
demo-model-cdc: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) main.py cdc train --synthetic --out resources/models/cdc_demo --arch light_unet --width 16 --format reduced --input-size 71 --scaling linear --epochs 30 --events-per-epoch 800 --occupancy 0.2:0.6 --batch-size 16 --pos-weight 3 --ema-decay 0.99 --warmup-fraction 0.05 --minutes 35 --device cpu --half
	$(MAKE) demo-model-cdc-fit

# The CDC demo model's second stage alone (the U-Net unchanged): 300 histogram-boosted trees
# (at most 16 leaves) fitted on 2000 fresh events of the training seeds (20-60 % occupancy, half
# without trigger times) over 23 features (drift residuals included); 19 min on one thread of
# the shared 2-core machine at load 3-8.
demo-model-cdc-fit: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) main.py cdc tune-fit --model resources/models/cdc_demo --out resources/models/cdc_demo --events 2000 --trees 300 --depth 4 --learning-rate 0.1 --half

# The soil demo model exactly as bundled: 9 synthetic cores (forest, grassland, arable in turn;
# seed 0; 200 x 192 x 192 voxels, 6 cm cores), the light VGG on the porosity of object4 (the
# mineral-matrix band) per slice at 64 px, 80/20 split by slice, 24 epochs on one CPU core
# (the 150 min budget only guards a busy machine); its RMSE on 3 further cores (seed 1) is
# recorded in the sidecar. Runs through `python -m app.cli.soil` (the verbs of `main.py soil`).
demo-model-soil: $(STAMP)
	$(PY) -m app.cli.soil sample --out /tmp/lablens_soil_train --cores 9 --seed 0
	$(PY) -m app.cli.soil sample --out /tmp/lablens_soil_test --cores 3 --seed 1
	OMP_NUM_THREADS=1 nice -n 10 $(PY) -m app.cli.soil train --data /tmp/lablens_soil_train --test-data /tmp/lablens_soil_test --out resources/models/soil_demo --arch vgg_light --object 4 --input-size 64 --epochs 24 --patience 8 --minutes 150 --seed 0 --device cpu --half
# The nodules demo model exactly as bundled, in two stages on 30 synthetic chest CT scans
# (seed 0; 24 train, 6 validate). Stage 1: SSDlite with a MobileNetV3-Large backbone and a
# feature pyramid with a stride-2 level, default boxes of 2-40 mm in steps of 2^(1/3) on levels
# of at most a third of their side (so IoU-0.5 matching has positives for small circles), at
# least 32 hard negatives per crop, 0.7 mm pixels, 2.5-D neighbours about 2 mm away, 64-px
# crops in batches of 16, 1300 steps (EMA 0.995; a generous --minutes keeps the schedule on the
# steps). Stage 2: the whole detector fine-tuned at 0.5 mm pixels (a 3 mm circle is 6 px) on
# 96-px crops (48 mm, about the field of stage 1), crops with a circle under 6 mm drawn twice as
# often, 1500 steps at lr 0.002: 7.7 min of fitting on one CPU thread (load about 1), plus the
# crops and about 3 min for the validation scans. Then the fresh test: 10 scans of seed 1000,
# which the model never saw, against the classical peer.
demo-model-nodules: $(STAMP)
	$(PY) main.py nodules sample --out /tmp/lablens_nodules_train --scans 30 --seed 0
	OMP_NUM_THREADS=1 $(PY) main.py nodules train --data /tmp/lablens_nodules_train --out /tmp/lablens_nodules_stage1 --steps 1300 --minutes 60 --batch-size 16 --crop-px 64 --lr 0.003 --ema-decay 0.995 --val-every 200 --context-mm 2 --seed 0 --device cpu --half
	OMP_NUM_THREADS=1 $(PY) main.py nodules train --data /tmp/lablens_nodules_train --out resources/models/nodules_demo --init /tmp/lablens_nodules_stage1.safetensors --steps 1500 --minutes 60 --batch-size 16 --crop-px 96 --pixel-mm 0.5 --lr 0.002 --ema-decay 0.995 --val-every 250 --context-mm 2 --small-weight 2 --seed 0 --device cpu --half
	$(PY) main.py nodules sample --out /tmp/lablens_nodules_test --scans 10 --seed 1000
	OMP_NUM_THREADS=1 $(PY) main.py nodules evaluate --model resources/models/nodules_demo --data /tmp/lablens_nodules_test --peer --device cpu --json /tmp/lablens_nodules_test.json

screenshots: $(STAMP)
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m app.screenshots docs

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants

# The sem demo model exactly as bundled: 24 synthetic 2000 x 2000 micrographs (seed 0), the
# ResNet-18 U-Net lite at half resolution on 128-px crops of 8, 1041 steps (what a 55-minute
# budget fitted on the shared 2-core machine, about 3 s a step; a generous --minutes keeps the
# schedule on the steps, so the weights do not depend on the machine's speed), with an EMA of
# the weights (decay 0.995, warmed up) kept from the best of 6 validations by mean IU, then the
# crop-and-classify peer (2 min); scored on 8 fresh micrographs of another seed and the figures
# recorded in the sidecar. About 65 min on one CPU thread of the shared machine (load ~7).
demo-model-sem: $(STAMP)
	rm -rf /tmp/lablens_sem_train /tmp/lablens_sem_fresh
	$(PY) main.py sem sample --out /tmp/lablens_sem_train --images 24 --size 2000x2000 --seed 0
	OMP_NUM_THREADS=1 nice -n 10 $(PY) main.py sem train --data /tmp/lablens_sem_train --out resources/models/sem_demo --arch unet-resnet18-lite --scale 0.5 --window 128 --batch-size 8 --steps 1041 --minutes 600 --validations 6 --lr 0.002 --ema-decay 0.995 --seed 0 --device cpu --peer --peer-minutes 2 --half
	$(PY) main.py sem sample --out /tmp/lablens_sem_fresh --images 8 --size 2000x2000 --seed 424242 --no-splits
	OMP_NUM_THREADS=1 nice -n 10 $(PY) main.py sem evaluate --model resources/models/sem_demo --data /tmp/lablens_sem_fresh --split all --device cpu --record --json /tmp/lablens_sem_demo_evaluation.json
