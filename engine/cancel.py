"""The one ``Cancelled``: raised by any long job (analysis, near-duplicates, layouts) once asked to stop."""


class Cancelled(Exception):
    """The job stopped because it was asked to; what it finished is kept."""
