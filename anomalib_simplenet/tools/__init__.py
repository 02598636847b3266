"""The tools around the model: they use the core (``anomalib_simplenet``), and the core never imports them.

* :mod:`.demo` -- ``simplenet-demo``: train, test, draw and export, offline, on generated or real data.
* :mod:`.benchmark` -- ``simplenet-benchmark``: SimpleNet side by side with anomalib's models, speed included.
* :mod:`.fleet` -- ``simplenet-fleet``: one model per product trained, and images scored, on Ray (``fleet`` extra).
* :mod:`.review` -- ``simplenet-review``: a local web page to review a run and set its threshold by eye.
* :mod:`.openvino_model` -- an exported model run on one decoded image (the fleet's actors, the review's uploads).
* :mod:`.threshold_file` -- the threshold chosen in the review, saved beside a model; predict and the fleet honour it.
* :mod:`.cifar10` -- one-class CIFAR-10 (the paper's Table 5) as anomalib ``Folder`` tasks, for the benchmark.
* :mod:`.jobs` -- what the benchmark and the fleet share: keyed, atomic results and the Ray runner.
* :mod:`.datamodules` -- anomalib's datamodule from a config's ``data`` entry, for a category and a seed.
* :mod:`.predict` -- ``python -m anomalib_simplenet.tools.predict``: an exported model on new images.
* :mod:`.plots` -- heat-map grids and score histograms.
* :mod:`.synthetic_dataset`, :mod:`.demo_dataset` -- generated MVTec-layout data for the tests and the demo.
* :mod:`.image_files` -- which files are images, for the tools' checks of a folder.
"""
