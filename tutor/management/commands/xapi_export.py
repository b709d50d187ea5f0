import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware

from tutor.models import Organisation, Section
from tutor.xapi_selectors import xapi_attempts_for_organisation, xapi_statements_for_organisation

BATCH = 500


class Command(BaseCommand):
    help = "Write an organisation's attempts as xAPI 1.0.3 statements: one JSON array, or JSON lines with --jsonl."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--class", dest="section_id", type=int, help="only attempts made in this class (id)")
        parser.add_argument("--since", help="only attempts answered at or after this ISO 8601 time (UTC if no offset)")
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
        parser.add_argument("--jsonl", action="store_true", help="one statement per line instead of a JSON array")

    def handle(self, *args, org: str, section_id: int | None, since: str | None, out: Path | None, jsonl: bool, **o):
        organisation = Organisation.objects.filter(slug=org).first()
        if organisation is None:
            known = ", ".join(Organisation.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no organisation {org!r} (organisations: {known})")
        if section_id is not None and not Section.objects.filter(pk=section_id, organisation=organisation).exists():
            raise CommandError(f"no class {section_id} in {org}")
        moment = None
        if since:
            moment = parse_datetime(since)
            if moment is None:
                raise CommandError(f"--since {since!r} is not an ISO 8601 time, e.g. 2026-09-01T00:00:00Z")
            moment = make_aware(moment) if is_naive(moment) else moment
        scope: dict[str, Any] = {"organisation_id": organisation.pk, "section_id": section_id, "since": moment}
        total = xapi_attempts_for_organisation(**scope).count()
        if out:
            with out.open("w", encoding="utf-8") as stream:
                written = self._write(stream.write, scope, total, jsonl)
        else:
            written = self._write(lambda text: self.stdout.write(text, ending=""), scope, total, jsonl)
        self.stderr.write(f"wrote {written} statements for {org}" + (f" to {out}" if out else ""))

    def _write(self, write: Callable[[str], Any], scope: dict[str, Any], total: int, jsonl: bool) -> int:
        written, after = 0, None
        if not jsonl:
            write("[")
        while True:
            page = xapi_statements_for_organisation(**scope, after=after, limit=BATCH)
            for statement in page.statements:
                text = json.dumps(statement, ensure_ascii=False)
                if jsonl:
                    write(text + "\n")
                else:
                    write(("," if written else "") + "\n" + text)
                written += 1
            if total > BATCH:
                self.stderr.write(f"  {written}/{total} statements")
            if page.next_cursor is None:
                break
            after = page.next_cursor
        if not jsonl:
            write("\n]\n")
        return written
