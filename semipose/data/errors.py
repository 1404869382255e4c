"""The error raised for bad input data: always names the file, the place in it and what was expected."""


class DataError(ValueError):
    """Input data is missing, malformed or inconsistent."""
