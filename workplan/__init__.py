"""workplan: the conclusions of intergovernmental meetings as tracked actions."""

__version__ = "0.1.0"
