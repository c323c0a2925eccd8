"""nbgrader settings as data, and the one place they become configuration.

nbgrader reads its configuration from a course's ``nbgrader_config.py``: Python that sets
``c.Section.trait = value``. Each part of the grader that adds to it (feedback, the late
policy, the sandbox, a worker's scratch course) returns its settings as data,
``{(section, trait): value}``; :func:`config_text` writes them as such lines (for the
scratch courses nbgrader starts in), :func:`apply` puts them into a loaded ``Config``.
"""

from __future__ import annotations

Settings = dict[tuple[str, str], object]

#: what a value may be made of: types whose ``repr`` is Python that rebuilds them
_PLAIN = (str, int, float, bool, type(None))


def config_text(heading: str, settings: Settings) -> str:
    """``settings`` as ``nbgrader_config.py`` lines under the comment ``# heading``."""
    for (section, trait), value in settings.items():
        if not _is_plain(value):
            raise TypeError(f"c.{section}.{trait} must be plain data (str, number, bool, None "
                            f"or a list of them), got {type(value).__name__}")
    return "\n".join([f"# {heading}", *(f"c.{section}.{trait} = {value!r}"
                                         for (section, trait), value in settings.items())])


def apply(config, settings: Settings) -> None:
    """Put ``settings`` into a traitlets ``Config`` (for nbgrader run in this process)."""
    for (section, trait), value in settings.items():
        config[section][trait] = value


def _is_plain(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    return isinstance(value, _PLAIN)
