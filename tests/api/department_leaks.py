"""The explicit half of the leak check in tests/api/schemathesis.sh (Schemathesis' hook is
the other: it catches what generated requests bring back).

    department_leaks.py BASE_URL DEPARTMENT_TOKEN FORBIDDEN_FILE OBJECTS_JSON

Walks every operation of BASE_URL/api/v1/openapi.json with the department token:
- every GET whose path has a parameter is asked for each of the other department's
  objects (agent ids into {agent_id}, incident ids into /incidents/{id}) and must answer
  404, and for a real object of the caller's own department must not answer 404;
- every GET with query filters is asked with the other department's name, hosts and
  ids in them (department=, agent_id=, host=, hostname=) and without;
- every other method is refused with 403 (a department token only reads);
and no answer may name an object of the other department (FORBIDDEN_FILE: one string a
line) unless the request itself carried it. Prints what it checked; exits 1 naming every
failure.
"""

import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

base, dept, forbidden_file, objects_file = sys.argv[1:5]
with open(forbidden_file, encoding="utf-8") as f:
    forbidden = [w.strip() for w in f if w.strip()]
with open(objects_file, encoding="utf-8") as f:
    objects = json.load(f)
patterns = [
    (w, re.compile(r"(?<![A-Za-z0-9_.-])" + re.escape(w) + r"(?![A-Za-z0-9_.-])"))
    for w in forbidden
]


def call(method, path, token, query=None, body=None):
    url = base + urllib.parse.quote(path)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = None
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


failures = []
checked = 0


def check(method, path, query=None, expect=None, refuse=None, body=None):
    global checked
    checked += 1
    status, text = call(method, path, dept, query, body)
    asked = path + " " + json.dumps(query or {}) + " " + json.dumps(body)
    what = f"{method} {path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    if status >= 500:
        failures.append(f"{what}: {status} {text[:200]}")
    if expect is not None and status != expect:
        failures.append(f"{what}: {status}, expected {expect}: {text[:200]}")
    if refuse is not None and status == refuse:
        failures.append(f"{what}: {status} for the caller's own object: {text[:200]}")
    for word, pattern in patterns:
        if word not in asked and pattern.search(text):
            failures.append(f"{what}: {status} names {word!r} of the other department")
    return status, text


with urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=30) as r:
    doc = json.load(r)

FILTERS = {
    "department": [objects["other_department"]],
    "agent_id": objects["other_agent_ids"],
    "host": objects["other_hostnames"],
    "hostname": objects["other_hostnames"],
}

for path, ops in sorted(doc["paths"].items()):
    for method, op in sorted(ops.items()):
        if method == "parameters":
            continue
        roles = op.get("x-tilsyn-roles", [])
        if method != "get":
            if "department" not in roles:
                params = {n: "x" for n in re.findall(r"{(\w+)}", path)}
                check(method.upper(), path.format(**params), body={}, expect=403)
            continue
        if "department" not in roles:
            if roles:
                check("GET", path, expect=403)
            continue
        names = re.findall(r"{(\w+)}", path)
        if names == ["agent_id"]:
            for a in objects["other_agent_ids"]:
                check("GET", path.format(agent_id=a), expect=404)
            # The caller's own host answers (facts, compliance may still be 404 when not
            # evaluated; the host and its lists answer 200).
            own = objects["own_agent_ids"][0]
            check("GET", path.format(agent_id=own), refuse=404 if not path.endswith(("/compliance", "/facts")) else None)
        elif path == "/api/v1/incidents/{id}":
            for i in objects["other_incident_ids"]:
                check("GET", path.format(id=i), expect=404)
            for i in objects["own_incident_ids"][:3]:
                check("GET", path.format(id=i), refuse=404)
        elif path == "/api/v1/compliance/standards/{id}":
            for s in objects["standards"]:
                check("GET", path.format(id=s))
        elif names:
            failures.append(f"GET {path}: no objects known for its parameters {names}; teach department_leaks.py")
        else:
            check("GET", path)
            declared = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "query"}
            for name, values in FILTERS.items():
                if name in declared:
                    for v in values:
                        status, _ = check("GET", path, query={name: v})
                        if status not in (200, 404):
                            failures.append(f"GET {path}?{name}=…: {status}, expected 200 (empty) or 404")

print(f"department leak pass: {checked} requests with the department token, {len(failures)} failures")
for f in failures:
    print("  FAIL", f)
sys.exit(1 if failures else 0)
