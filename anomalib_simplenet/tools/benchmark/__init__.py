"""``simplenet-benchmark``: SimpleNet side by side with PatchCore, PaDiM or any anomalib model.

:mod:`.cli` (the command), :mod:`.config` (what a run compares), :mod:`.job` (one run in its own
process), :mod:`.throughput` (inference speed) and :mod:`.report` (tables, plots, the README block).
"""
