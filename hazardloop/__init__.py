"""hazardloop: the event-driven closed-loop risk-hazard management engine.

The wheel installs this one import package. The repository keeps its top-level folders (``models/``,
``flows/``, ``notifications/``, ``config/``) and setuptools maps them to ``hazardloop.models`` and so on. In a
checkout used without installing (``PYTHONPATH=.``), the repository root is added to this package's search
path, so that the same ``hazardloop.models`` names resolve to the same folders.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_CHECKOUT = _Path(__file__).resolve().parent.parent
_MAPPED = ("models", "flows", "notifications", "config")
if (_CHECKOUT / "pyproject.toml").is_file() and all((_CHECKOUT / name / "__init__.py").is_file() for name in _MAPPED):
    __path__.append(str(_CHECKOUT))
