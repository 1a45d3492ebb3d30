"""The exception hierarchy of fdafast.

Every error fdafast raises on purpose derives from :class:`FdafastError`.
Subclasses also derive from the built-in exception that fits, so callers can
catch either ``fdafast.FdafastError`` or, say, ``ValueError``.
"""

__all__ = [
    "FdafastError", "InvalidArgumentError", "ShapeError", "DTypeError",
    "NonFiniteError", "TileError", "NativeError",
]


class FdafastError(Exception):
    """Root of all errors raised by fdafast."""


class InvalidArgumentError(FdafastError, ValueError):
    """An argument has a value outside what is accepted."""


class ShapeError(InvalidArgumentError):
    """Array shapes or ranks do not fit together."""


class DTypeError(FdafastError, TypeError):
    """An array has a dtype fdafast does not accept."""


class NonFiniteError(InvalidArgumentError):
    """An input or weight array contains NaN or infinity."""


class TileError(InvalidArgumentError):
    """The requested FFT tile is unsupported or too small for the kernel."""


class NativeError(FdafastError, RuntimeError):
    """The C kernel layer returned a failure status.

    Attributes
    ----------
    status : int
        The ``FDA_ERR_*`` status code returned by the C function.
    """

    def __init__(self, status, message):
        super().__init__(f"{message} (fdafast C status {status})")
        self.status = status
