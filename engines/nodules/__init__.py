"""Lung nodules on chest CT: an SSD on axial slices, 2-D boxes linked into 3-D candidates, and
the LUNA16 evaluation (Abdullah et al., papers/lung-nodule-ssd.txt).

Modules, in the order data flows through them:

* :mod:`~engines.nodules.scan` opens any chest CT (LUNA16 .mhd, DICOM series, NIfTI) and turns
  it to the axial LPS orientation every other module assumes; :mod:`~engines.nodules.luna16`
  reads and writes the LUNA16 layout and CSV files.
* :mod:`~engines.nodules.preprocess` (HU window, in-plane resampling, the 2.5-D input, the
  training slice choice), :mod:`~engines.nodules.lungs` (lung mask) and
  :mod:`~engines.nodules.boxes` (sphere → slice circles, ground-truth boxes).
* :mod:`~engines.nodules.detectors` (the SSD registry), :mod:`~engines.nodules.model` (the
  :class:`~engines.nodules.model.NoduleDetector` bundle), :mod:`~engines.nodules.training`.
* :mod:`~engines.nodules.detect` (every slice → 2-D boxes → :mod:`~engines.nodules.linking`
  3-D candidates, checked by :mod:`~engines.nodules.shape`), :mod:`~engines.nodules.candidates`
  (review items and exports), :mod:`~engines.nodules.evaluation` (per-slice counts, FROC, CPM),
  :mod:`~engines.nodules.peer` (the classical CAD).
* :mod:`~engines.nodules.synthetic` with :mod:`~engines.nodules.anatomy` and
  :mod:`~engines.nodules.vessels`: the seeded synthetic chest CT; :mod:`~engines.nodules.samples`,
  :mod:`~engines.nodules.batch`.
"""
