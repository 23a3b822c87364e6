"""How names that people give things are cleaned: organizations and registries alike.

One rule for every way in (the Settings page, the admin, the command line): runs of whitespace
become one space, the ends are trimmed, and what cannot be shown safely is refused. Control
characters (NUL, which PostgreSQL cannot store; escape sequences that recolour a terminal or a
log) and the bidirectional overrides that make text read differently than it is stored.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

CONTROL_CHARACTERS_MESSAGE = "The name cannot contain control characters."
# Bidirectional embeddings, overrides and isolates (Unicode's "Trojan Source" characters).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def normalize_name(value: str) -> str:
    """`value` with whitespace collapsed and trimmed; ValidationError for unsafe characters.

    An empty result is returned as "": whether a name is required is the caller's rule.
    """
    name = " ".join(value.split())
    if any(_unsafe(character) for character in name):
        raise ValidationError(CONTROL_CHARACTERS_MESSAGE, code="control")
    return name


def _unsafe(character: str) -> bool:
    # Cc: C0 and C1 controls; Cs: lone surrogates, which no database text column accepts.
    return unicodedata.category(character) in ("Cc", "Cs") or character in _BIDI_CONTROLS
