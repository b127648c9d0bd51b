"""Schemathesis hooks for tests/api/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

One check, `no_other_department_leak`: a response to a department token may not name an
object of another department. TILSYN_FORBIDDEN names a file with one string a line (the
other department's agent ids, hostnames and change window ids, collected with the admin
token before the run); a response whose body holds one of them as a whole word fails,
unless the request itself carried that string (a 404 that repeats the id asked for tells
nothing). Without TILSYN_FORBIDDEN (the admin run) the check passes everything.
"""

import os
import re
from urllib.parse import unquote

import schemathesis

_FORBIDDEN = None


def _forbidden():
    global _FORBIDDEN
    if _FORBIDDEN is None:
        path = os.environ.get("TILSYN_FORBIDDEN")
        words = []
        if path:
            with open(path, encoding="utf-8") as f:
                words = [w.strip() for w in f if w.strip()]
        # Whole words: `ws-x-000001` must not match inside `ws-x-0000010`.
        _FORBIDDEN = [
            (w, re.compile(r"(?<![A-Za-z0-9_.-])" + re.escape(w) + r"(?![A-Za-z0-9_.-])"))
            for w in words
        ]
    return _FORBIDDEN


def _request_text(case, response):
    parts = [case.formatted_path or "", unquote(response.request.url or "")]
    for group in (case.path_parameters, case.query, case.headers, case.cookies):
        if group:
            parts.extend(f"{k}={v}" for k, v in group.items())
    if case.body is not None:
        parts.append(repr(case.body))
    return " ".join(parts)


@schemathesis.check
def no_other_department_leak(ctx, response, case):
    forbidden = _forbidden()
    if not forbidden:
        return None
    body = response.text or ""
    asked = _request_text(case, response)
    for word, pattern in forbidden:
        if word in asked:
            continue
        if pattern.search(body):
            raise AssertionError(
                f"{case.method} {case.formatted_path} answered {response.status_code} naming "
                f"{word!r}, an object of another department, to a department token"
            )
    return None
