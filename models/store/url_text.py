"""A database (or mail) URL as a message may show it: with every secret hidden. A password may sit in the user
part (``user:secret@host``) or in the query string (``?password=secret``, which libpq and psycopg accept), and a URL
that cannot even be parsed may still hold one."""

from __future__ import annotations

import re
from urllib.parse import quote

HIDDEN = "***"
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|key|auth", re.IGNORECASE)
# for text that is not a URL SQLAlchemy can read: the user part's password, and any secret-looking query value
_USER_PASSWORD = re.compile(r"(://[^/?#@:]*):[^@]*@")
_QUERY_SECRET = re.compile(r"([?&;][^=&;#]*(?:pass|pwd|secret|token|key|auth)[^=&;#]*=)[^&;#]*", re.IGNORECASE)


def shown_url(url: object) -> str:
    """``url`` (text or a SQLAlchemy ``URL``) with its password and secret query values replaced by ``***``."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except (ArgumentError, ValueError):
        return _QUERY_SECRET.sub(rf"\g<1>{HIDDEN}", _USER_PASSWORD.sub(rf"\g<1>:{HIDDEN}@", str(url)))
    base = parsed.set(query={}).render_as_string(hide_password=True)
    pairs = []
    for key, values in parsed.query.items():
        for value in (values,) if isinstance(values, str) else values:
            pairs.append(f"{quote(key)}={HIDDEN if _SECRET_KEY.search(key) else quote(value, safe='/:,')}")
    return base + ("?" + "&".join(pairs) if pairs else "")
