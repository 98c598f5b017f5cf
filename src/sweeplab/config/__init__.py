"""What a user writes down, apart from what runs it: sweep files (:mod:`.parse` reads them into a
:class:`~.sweep.Sweep`), the Optuna sampler and pruner table (:mod:`.optuna_settings`) and experiment files
(:mod:`.experiment`)."""

from sweeplab.config.experiment import Experiment, load_experiment
from sweeplab.config.parse import (ENGINES, SELECT_RULES, built_in_dir, check_configuration, load_sweep, parse_sweep,
                                   resolve_path, sweep_files, sweeps_dir)
from sweeplab.config.sweep import Param, Sweep

__all__ = ["Experiment", "load_experiment", "ENGINES", "SELECT_RULES", "check_configuration", "load_sweep",
           "parse_sweep", "resolve_path", "sweeps_dir", "built_in_dir", "sweep_files", "Param", "Sweep"]
