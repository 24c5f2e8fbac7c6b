"""The one error type the CLI turns into a one-line message and a non-zero exit."""


class FlowError(Exception):
    """A problem with the user's input or with what the flow can build from it.

    The message must fit on one line and name the problem (and, where there is a fixed set of valid
    values, list them). The CLI prints ``flow: error: <message>`` and exits with status 2.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def choose(kind: str, name: str, valid) -> str:
    """Return ``name`` if it is one of ``valid``, else raise a FlowError listing the valid names."""
    valid = list(valid)
    if name not in valid:
        raise FlowError(f"unknown {kind} '{name}'; valid {kind}s: {', '.join(valid)}")
    return name
