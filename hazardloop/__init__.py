"""hazardloop: the event-driven closed-loop risk-hazard management engine. This package holds the entry
points (the command line); the rules live in ``models``, the flows in ``flows``."""

__version__ = "0.1.0"
