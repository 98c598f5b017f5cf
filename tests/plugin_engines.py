"""An engine as a third-party package would ship it, declared through the sweeplab.engines entry point: one module,
one Engine subclass. It proposes the grid last point first, every ``step``-th."""

from sweeplab.engines import Engine


class ReversedGrid(Engine):
    @classmethod
    def validate(cls, options, fail):
        for key in options:
            if key != "step":
                fail(key, "unknown option, expected step")
        step = options.get("step", 1)
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            fail("step", f"expected an integer from 1, got {step!r}")
        return {"step": step}

    def planned(self, sweep):
        return len(self.proposals(sweep))

    def proposals(self, sweep):
        from sklearn.model_selection import ParameterGrid

        grid = list(ParameterGrid({name: p.grid_values() for name, p in sweep.searched().items()}))
        return grid[::-1][::sweep.engine_options["step"]]
