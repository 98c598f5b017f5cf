"""How a sweep runs: engines propose configurations (:mod:`.engines`), the trainer (:mod:`.trainer`) cross-validates
each through the folds (:mod:`.folds`) into a trial (:mod:`.trial`), telling listeners (:mod:`.listener`,
:mod:`.progress`); the runner (:mod:`.runner`) does it per dataset: split, baseline, search, refit, test."""
