import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tutor.models import User
from tutor.privacy_selectors import student_export


class Command(BaseCommand):
    help = "Write everything Metis stores about one person as JSON (the right of access)."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")

    def handle(self, *args, username: str, out: Path | None, **options):
        student = User.objects.filter(username=username).first()
        if student is None:
            raise CommandError(f"no account {username!r}")
        text = json.dumps(student_export(student=student), indent=2, ensure_ascii=False)
        if out:
            out.write_text(text + "\n", encoding="utf-8")
            self.stderr.write(f"wrote {out}")
        else:
            self.stdout.write(text)
