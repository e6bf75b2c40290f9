"""The ``zipcore`` command: the users' front door to the golden models, the
gateware, the simulators, the board builds and the reports."""

__version__ = "0.1.0"
