"""``simplenet-fleet``: one SimpleNet per product, trained and used on Ray, from one laptop to a cluster.

* :mod:`.config` -- what a fleet trains: an anomalib datamodule, categories or a folder of product folders,
  SimpleNet's arguments, seed and the resources of each fit.
* :mod:`.train` -- ``simplenet-fleet train``: a Ray task per product; checkpoint and OpenVINO model, staged and
  published with a keyed completion marker, so a rerun does exactly what is not done.
* :mod:`.score` -- ``simplenet-fleet score``: Ray Data reads the images, an actor pool runs the exported models;
  one Parquet table of scores, one of errors, resumable.
* :mod:`.cli` -- the command line.

Needs the ``fleet`` extra (``pip install -e ".[fleet]"``); the model core never imports it.
"""
