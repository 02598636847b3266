"""``python -m anomalib_simplenet.tools.predict``: score new images with an exported model, a picture and a CSV row each.

``anomalib export --export_type openvino`` (or ``simplenet-demo``) writes ``model.xml``; this runs it
with anomalib's :class:`~anomalib.deploy.OpenVINOInferencer`, no torch model or checkpoint needed::

    python -m anomalib_simplenet.tools.predict --model results/demo/washer/openvino/model.xml --data path/to/images
    python -m anomalib_simplenet.tools.predict --model model.xml --data one_image.png --output my_predictions

It prints one line per image (score, label, path) and writes ``<output>/predictions.csv`` (image_path,
pred_score, pred_label, label, gt_label, visualization, anomaly_map, gt_mask), one picture per image (image,
heat map, predicted defect outline, captioned with the score) and each heat map in ``anomaly_maps/``.
Scores are anomalib's normalised scores: above 0.5 is anomalous, unless a threshold chosen in
``simplenet-review`` is saved beside the model (``review_threshold.json``): then above that one.
The heat map covers the whole picture when the model resized without a centre crop (as the demo's models
do); a model trained with a crop maps only the central crop.

* :mod:`.cli` -- the command line: options, one-line errors, exit status.
* :mod:`.run` -- the checks of ``--model`` and ``--data``, and the scoring (:func:`~.run.predict_openvino`, also
  what the demo and the notebook call).

What it imports: the checks of the options need only the standard library; the table and captions
(:mod:`anomalib_simplenet.visualization.predictions`) torch, torchvision and PIL, not Lightning. anomalib's
``anomalib.deploy``, imported only to score, imports torch and Lightning itself (anomalib 2.7).
"""
