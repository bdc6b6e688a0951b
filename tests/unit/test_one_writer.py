"""Exactly one module (engine/transitions.py) writes a stored message's status, lease or claim token."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import django_qstash
from django_qstash.db import owned_rows
from django_qstash.engine import transitions

PACKAGE = Path(django_qstash.__file__).resolve().parent
WRITER = Path(transitions.__file__).resolve()
FIELDS = {"status", "lease_expires_at", "claim_token"}
# An UPDATE statement that sets one of them, however its text is assembled.
# Modules that write the ``status`` of another model, never a message's (lease and claim
# token are still guarded there).
OTHER_STATUS = {"django_qstash/tasks_backend/store.py": "TaskResultRecord.status"}
SQL_WRITE = re.compile(r"\bUPDATE\b.*\bSET\b.*\b(status|lease_expires_at|claim_token)\b\s*=",
                       re.IGNORECASE | re.DOTALL)


def _text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's literal parts, with its fields as ``?``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "?"
                       for part in node.values)
    return None


def _names_in(node: ast.AST | None, constants: dict[str, ast.AST]) -> set[str]:
    """The string literals of a list/tuple/set (or of the module constant it names)."""
    if isinstance(node, ast.Name) and node.id in constants:
        node = constants[node.id]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant)}
    return set()


def writes_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for every write of a guarded field the source spells."""
    tree = ast.parse(source)
    constants = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name)}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            targets = [t for target in targets  # ``a.status, a.finished_at = ...`` too
                       for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
            for target in targets:
                # ``self.status`` is an exception's or a response's HTTP status, not a row's.
                if (isinstance(target, ast.Attribute) and target.attr in FIELDS
                        and not (isinstance(target.value, ast.Name) and target.value.id == "self"
                                 and target.attr == "status")):
                    found.append((node.lineno, f"assigns .{target.attr}"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            keywords = {k.arg for k in node.keywords if k.arg}
            for k in node.keywords:  # .update(**{"status": ...})
                if k.arg is None and isinstance(k.value, ast.Dict):
                    keywords |= {key.value for key in k.value.keys
                                 if isinstance(key, ast.Constant)}
            if name == "update" and keywords & FIELDS:
                found.append((node.lineno, f".update({', '.join(sorted(keywords & FIELDS))}=)"))
            if name == "save":
                fields = next((k.value for k in node.keywords if k.arg == "update_fields"), None)
                if _names_in(fields, constants) & FIELDS:
                    found.append((node.lineno, ".save(update_fields=[{}])".format(
                        ", ".join(sorted(_names_in(fields, constants) & FIELDS)))))
            if name == "bulk_update" and len(node.args) > 1 and (
                    _names_in(node.args[1], constants) & FIELDS):
                found.append((node.lineno, ".bulk_update(..., [{}])".format(
                    ", ".join(sorted(_names_in(node.args[1], constants) & FIELDS)))))
            if name == "setattr" and len(node.args) > 1 and _text(node.args[1]) in FIELDS:
                found.append((node.lineno, f"setattr(..., {_text(node.args[1])!r})"))
        text = _text(node)
        if text is not None and SQL_WRITE.search(text):
            found.append((node.lineno, f"UPDATE ... SET {SQL_WRITE.search(text).group(1)} in SQL"))
    return found


def offenders(root: Path = PACKAGE) -> list[str]:
    result = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root) == WRITER.relative_to(PACKAGE) or "migrations" in path.parts:
            continue
        name = path.relative_to(root.parent).as_posix()
        for line, what in writes_in(path.read_text()):
            named = set(re.findall(r"\w+", what)) & FIELDS
            if name in OTHER_STATUS and named == {"status"}:
                continue
            result.append(f"{name}:{line}: {what}")
    return result


def test_only_the_state_machine_writes_status_lease_and_claim_token():
    found = offenders()
    assert not found, ("only django_qstash/engine/transitions.py may change a message's status, "
                       "lease or claim token; add a named transition there instead:\n"
                       + "\n".join(found))


def test_the_state_machine_is_seen_writing():
    # The scan recognises the writes it guards: transitions.py is full of them.
    assert len(writes_in(WRITER.read_text())) >= 8


SPELLINGS = {
    "orm update": 'Message.objects.filter(pk=1).update(status="pending")\n',
    "orm update dict": 'q.update(**{"lease_expires_at": None})\n',
    "assign then save": 'm.claim_token += 1\nm.save()\n',
    "tuple assign": 'm.status, m.finished_at = "failed", now\n',
    "update_fields": 'FIELDS = ["status"]\nm.save(update_fields=FIELDS)\n',
    "bulk_update": 'Message.objects.bulk_update(rows, ["lease_expires_at"])\n',
    "setattr": 'setattr(m, "status", "active")\n',
    "raw sql": 'cursor.execute(f"UPDATE {t} "\n               f"SET status = {p}")\n',
    "raw sql lower": 'sql = "update qstash_message set claim_token = %s where id = %s"\n',
}


def test_every_spelling_of_a_write_is_caught():
    for name, source in SPELLINGS.items():
        assert writes_in(source), name


def test_reads_and_other_statuses_are_not_writes():
    source = ('Message.objects.filter(status="active").count()\n'
              'self.status = 400\n'
              'Message.objects.create(status="pending")\n'
              'sql = "SELECT id FROM m WHERE status = %s"\n'
              'row.save(update_fields=["paused"])\n')
    assert writes_in(source) == []


def test_a_write_added_elsewhere_fails_naming_its_line(tmp_path):
    package = tmp_path / "django_qstash"
    (package / "engine").mkdir(parents=True)
    (package / "engine" / "transitions.py").write_text('m.update(status="x")\n')
    (package / "sneaky.py").write_text('"""A module."""\n\nQ.update(lease_expires_at=None)\n')
    found = offenders(package)
    assert found == ["django_qstash/sneaky.py:3: .update(lease_expires_at=)"], found


OWNERSHIP = Path(owned_rows.__file__).resolve()  # Params.owned (SQL), owns (a batch's rows)


def ownership_tests_in(source: str) -> list[int]:
    """Lines that test "still owned" on their own: an ORM lookup by claim token, or SQL
    comparing it."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"filter", "exclude", "get", "select_for_update"}
                and any(k.arg and k.arg.startswith("claim_token") for k in node.keywords)):
            lines.append(node.lineno)
        text = _text(node)
        if text is not None and re.search(r"\bclaim_token\s*=", text):
            lines.append(node.lineno)
    return sorted(set(lines))  # an f-string's literal parts are nodes of their own too


def test_still_owned_is_spelled_once():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}"
             for path in sorted(PACKAGE.rglob("*.py"))
             if path != OWNERSHIP and "migrations" not in path.parts
             for line in ownership_tests_in(path.read_text())]
    assert not found, ("test ownership with owned_rows.Params.owned / owns (through "
                       "engine.transitions), not again here:\n" + "\n".join(found))
    assert ownership_tests_in('Message.objects.filter(pk=1, claim_token=2)\n') == [1]
    assert ownership_tests_in('sql = f"... AND claim_token = {p}"\n') == [1]
