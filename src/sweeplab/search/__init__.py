"""How a sweep runs: an engine (:mod:`sweeplab.engines`) proposes configurations into the queue (:mod:`.queue`), which
any number of processes take from; the trainer (:mod:`.trainer`) cross-validates each through the folds
(:mod:`.folds`) into a trial (:mod:`.trial`), telling listeners (:mod:`.listener`, :mod:`.progress`); the runner
(:mod:`.runner`) does it per dataset: split, baseline, search, refit, test."""
