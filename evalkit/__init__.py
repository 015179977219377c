"""evalkit: evaluation of interventions in Danish vulnerable housing areas."""
from evalkit.errors import EvalkitError, EvalkitWarning, ParameterError, ValidationError

__version__ = "0.1.0"
__all__ = ["EvalkitError", "EvalkitWarning", "ParameterError", "ValidationError", "__version__"]
