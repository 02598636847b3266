"""``simplenet-review``: a local web page to review a run -- every image with its heat map, the threshold set by eye.

* :mod:`.runs` -- the runs in a results folder (demo, anomalib, benchmark, fleet) and the counts at a threshold.
* :mod:`.server` -- the web server (standard library) and what each request may do.
* :mod:`.cli` -- the command.
* ``static/`` -- the page: plain HTML, CSS and JavaScript, no build step, nothing fetched from the network.
"""
