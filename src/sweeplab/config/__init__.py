"""What a user writes down, apart from what runs it: sweep files (:mod:`.parse` reads them into a
:class:`~.sweep.Sweep`; each engine checks its own options, :mod:`sweeplab.engines`) and experiment files
(:mod:`.experiment`)."""

from sweeplab.config.experiment import Experiment, load_experiment
from sweeplab.config.parse import (SELECT_RULES, built_in_dir, check_configuration, engine_spec, load_sweep,
                                   normal_form, parse_sweep, resolve_path, sweep_files, sweeps_dir)
from sweeplab.config.sweep import Param, Sweep

__all__ = ["Experiment", "load_experiment", "SELECT_RULES", "check_configuration", "engine_spec", "load_sweep",
           "normal_form", "parse_sweep", "resolve_path", "sweeps_dir", "built_in_dir", "sweep_files", "Param", "Sweep"]
