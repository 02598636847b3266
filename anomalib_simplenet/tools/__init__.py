"""The tools around the model: they use the core (``anomalib_simplenet``), and the core never imports them.

One subpackage per command:

* :mod:`.demo` -- ``simplenet-demo``: train, test, draw and export, offline, on generated or real data.
* :mod:`.benchmark` -- ``simplenet-benchmark``: SimpleNet side by side with anomalib's models, speed included.
* :mod:`.fleet` -- ``simplenet-fleet``: one model per product trained, and images scored, on Ray (``fleet`` extra).
* :mod:`.review` -- ``simplenet-review``: a local web page to review a run and set its threshold by eye.
* :mod:`.predict` -- ``python -m anomalib_simplenet.tools.predict``: an exported model on new images.

And what they share:

* :mod:`.jobs` -- what the benchmark and the fleet share: keyed, atomic results and the Ray runner.
* :mod:`.datamodules` -- anomalib's datamodule from a config's ``data`` entry, for a category and a seed.
* :mod:`.generated_data` -- generated MVTec-layout data: the tests' striped texture, the demo's fabric and washer.
* :mod:`.cifar10` -- one-class CIFAR-10 (the paper's Table 5) as anomalib ``Folder`` tasks, for the benchmark.
* :mod:`.openvino_model` -- an exported model run on one decoded image (the fleet's actors, the review's uploads),
  and the OpenVINO settings every tool compiles with.
* :mod:`.threshold_file` -- the threshold chosen in the review, saved beside a model; predict and the fleet honour it.
* :mod:`.image_files` -- which files are images, for the tools' checks of a folder.
* :mod:`.plots` -- heat-map grids and score histograms.
* :mod:`.console` -- what the commands print: their own progress, not libraries' chatter.
"""
