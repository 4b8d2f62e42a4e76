"""How to add one of privmask-video's optional parts (its *extras*): the one wording every
"needs ..." error uses.

privmask is installed from its clone or from a wheel built there (it is not on PyPI), so
``pip install 'privmask-video[detect]'`` fails; the hint gives pip's form for a local project
and the packages the extra brings (read from the installed distribution's metadata, so it
cannot drift from ``pyproject.toml``).
"""

from __future__ import annotations

import re
from importlib import metadata

__all__ = ["install_hint"]

DISTRIBUTION = "privmask-video"


def extra_packages(extra: str) -> list[str]:
    """The names of the packages ``extra`` adds, in ``pyproject.toml`` order (empty when the
    distribution's metadata is not there, e.g. running from a source tree)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    names = []
    for requirement in requires:
        if marker.search(requirement):
            name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            if name and name.group(0) not in names:
                names.append(name.group(0))
    return names


def install_hint(extra: str) -> str:
    """``install privmask-video's 'detect' extra (onnxruntime onnx scipy scikit-image): pip
    install '.[detect]' in the privmask clone``."""
    packages = extra_packages(extra)
    listed = f" ({' '.join(packages)})" if packages else ""
    return (
        f"install {DISTRIBUTION}'s '{extra}' extra{listed}: "
        f"pip install '.[{extra}]' in the privmask clone"
    )
