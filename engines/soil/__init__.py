"""Soil CT cores (Wieland et al. 2021): porosity per object band and slice, surrogate-trained
VGG16 regression, transfer learning, the model-transfer RMSE matrix and grad-CAM.

Axis convention: a :class:`~engines.imaging.volume.Volume` is indexed ``[z, y, x]``. The core
axis ("depth", the paper's X) is an array axis chosen by ``PreprocessConfig.core_axis`` (``z``
by default: slices across the core, as a core lying on a CT table is scanned); the paper's Y
and Z are the other two axes in array order. Every result states the depth axis it used.

Modules: :mod:`.preprocess` (settings, clip/shift, crop box), :mod:`.core_axis` (finding the
axis), :mod:`.bands` (object bands, trimming), :mod:`.porosity` (porespy porosity and
profiles), :mod:`.analysis` (the Analyze generator and its result), :mod:`.pore_metrics`,
:mod:`.synthetic` / :mod:`.site_types` (sample cores), :mod:`.models`, :mod:`.dataset`,
:mod:`.training`, :mod:`.transfer`, :mod:`.matrix`, :mod:`.gradcam`, :mod:`.samples`,
:mod:`.batch`.
"""
