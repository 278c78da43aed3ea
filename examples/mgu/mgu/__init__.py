"""A minimal gated unit (Zhou et al. 2016) for rnnbench: `model.cell: mgu` or "mgu.cells:MGU"."""
