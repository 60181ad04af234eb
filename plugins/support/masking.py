"""The one masker: hides secret values in any text the server or a plugin shows.

Build logs, app logs, error messages of every plugin and the installer's output
all go through `secret_masker`, so a secret is hidden by the same rules
wherever it could show up:

- the value itself, and each line of a multi-line value (a PEM key), since
  text is often read line by line;
- its base64 forms (standard and URL-safe alphabets, at any of the three byte
  alignments, so also inside a longer encoded blob such as a registry's
  ``user:password`` auth string);
- its URL-encoded forms (``%2F`` escapes, ``+`` for spaces).

Every form is replaced by `MASK`. Forms shorter than `MIN_MASKED_LENGTH`
are left alone: masking "a" or "ab" would blank out half of every log line
and hide nothing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "MIN_MASKED_LENGTH", "mask_secrets", "secret_forms", "secret_masker"]

MASK = "****"
MIN_MASKED_LENGTH = 4

# With k bytes of unknown data before the secret, the first ceil(8k/6) base64
# characters mix those bytes with the secret's: they are left out.
_LEADING_MIXED_CHARS = {0: 0, 1: 2, 2: 3}
# Characters a partial last group keeps that hold the secret's bits only.
_TRAILING_WHOLE_CHARS = {0: 0, 1: 1, 2: 2}


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 text `raw` becomes wherever it sits in a longer encoded blob.

    For each of the three alignments, only the characters that depend on
    `raw` alone: those are in every encoding that holds `raw` at that offset.
    """
    cores: set[str] = set()
    for offset, skip in _LEADING_MIXED_CHARS.items():
        encoded = base64.b64encode(bytes(offset) + raw).decode("ascii")
        total = offset + len(raw)
        keep = (total // 3) * 4 + _TRAILING_WHOLE_CHARS[total % 3]
        core = encoded[skip:keep]
        cores.add(core)
        cores.add(core.translate(str.maketrans("+/", "-_")))
    # The whole value encoded on its own, padding included.
    whole = base64.b64encode(raw).decode("ascii")
    cores.update({whole, base64.urlsafe_b64encode(raw).decode("ascii")})
    return cores


def secret_forms(secret: str) -> set[str]:
    """Every form of `secret` the masker hides (those long enough to mask)."""
    plain = {
        value
        for value in (secret, *secret.splitlines())
        if len(value) >= MIN_MASKED_LENGTH and value.strip()
    }
    forms = set(plain)
    for value in plain:
        forms.update(_base64_cores(value.encode()))
        forms.update({quote(value, safe=""), quote(value), quote_plus(value)})
    return {
        form
        for form in forms
        # A form made only of the mask's own character cannot be told from a
        # mask; matching it would also never end (see `secret_masker`).
        if len(form) >= MIN_MASKED_LENGTH and form.strip() and form.strip(MASK[0])
    }


def secret_masker(secrets: Iterable[str]) -> Callable[[str], str]:
    """A function that replaces every form of each secret in a text with `MASK`.

    Made once for many lines (a log stream): the pattern is compiled here.
    """
    forms = sorted(
        {form for secret in secrets for form in secret_forms(secret)}, key=len, reverse=True
    )
    if not forms:
        return lambda text: text
    # Longest alternative first: a secret that contains another is masked whole.
    pattern = re.compile("|".join(re.escape(form) for form in forms))

    def mask(text: str) -> str:
        # A mask next to the text around it can spell a secret again ("x" +
        # "****" when the secret is "x***"), so mask until nothing matches.
        # Each pass replaces at least one character that is not the mask's,
        # so this ends.
        while True:
            masked = pattern.sub(MASK, text)
            if masked == text or pattern.search(masked) is None:
                return masked
            text = masked

    return mask


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of each secret replaced by `MASK`."""
    return secret_masker(secrets)(text)
