"""The job machinery the benchmark and the fleet share.

Results that are whole or absent, keyed to what made them, and a runner that spreads jobs over Ray:


* :mod:`.store` -- keys over a job's settings and package versions, atomic files, completion markers, staged
  folders moved into place (local and shared file systems, and object stores through fsspec). No Ray.
* :mod:`.ray_runner` -- run named jobs as Ray tasks: resources per job, a fresh worker process each, retries on
  worker death, progress lines and a summary. Needs the ``fleet`` extra (``pip install -e ".[fleet]"``).
"""
