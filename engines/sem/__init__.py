"""Steel micrographs (SEM): tiled FCN segmentation, stitched, max-vote class per object
(Azimi et al., "Advanced steel microstructural classification by deep learning methods").

The API a workspace needs (every long call is a generator yielding ``Progress``):

Reading
    :func:`readers.read_micrograph` ``(path, crop_bottom=0) -> Micrograph`` (memory-mapped
    TIFF; ``.array``, ``.pixel_size_um``, ``.warnings``), :func:`labels.read_mask`,
    :func:`labels.read_label`, :func:`labels.read_object_table`;
    :func:`dataset.open_dataset` ``(folder) -> Dataset`` and :func:`dataset.load_sample`
    ``(files, classes) -> LabelledImage`` (image, labels, mask aligned; data bars cropped).
Models
    :class:`segmenter.SemSegmenter` (``load``, ``save``, ``describe``, ``classes`` names and
    colours, ``sliding_window()``, ``peer``); the registry :mod:`models`.
Analysis
    :class:`analysis.AnalysisJob` ``(segmenter, micrograph, mask=None, window=None)``: its
    ``labels`` (H, W) uint8 fill band by band while ``run()`` yields Progress with
    ``rows_done``; ``run()`` returns an :class:`analysis.AnalysisResult` (``labels``,
    ``objects``, ``votes`` with winner/share/runner-up, ``geometry``, ``review_items()``,
    ``table()``, ``object_image()``, ``summary()``); :func:`analysis.write_outputs`.
Viewing and review (the workspace)
    :func:`viewing.iter_open_micrograph` ``(path, crop_bottom=0) -> OpenedMicrograph`` (image,
    display pyramid, mask, truth, data set); :func:`viewing.iter_review_analysis` ``(job,
    opened) -> ReviewedAnalysis`` (the analysis, its autosaved review restored or new, the
    editable :class:`viewing.ObjectMap`, scores); :func:`viewing.iter_restore_review` (a saved
    review without running the model).
Scores
    :func:`evaluation.score_analysis` ``(result, sample[, corrected classes])`` for one image
    already analysed; :func:`evaluation.iter_evaluate` for a data set's split (with the peer).
Training
    :func:`training.train_segmenter` ``(dataset, TrainConfig, Preprocessing, init)``, live
    curves from ``iter_fit`` (``val_mean_iu``, ``val_pixel_accuracy``,
    ``val_object_accuracy``); :func:`peer.iter_train_peer_on` for the peer.
Sample data
    :mod:`samples` (``SAMPLES``, ``DEFAULT``), :func:`synthetic_dataset.iter_write_dataset`.
"""
