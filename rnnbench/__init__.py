"""rnnbench: reproduce and regression-test Chung et al. 2014 on polyphonic music."""

__version__ = "0.1.0"
