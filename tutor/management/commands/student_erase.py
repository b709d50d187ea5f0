from django.core.management.base import BaseCommand, CommandError

from tutor.models import ErasureRecord, User
from tutor.privacy_services import ErasureBlocked, erasures_resume, student_erase


def _summary(record: ErasureRecord) -> str:
    rows = ", ".join(f"{label} {n}" for label, n in sorted(record.deleted.items())) or "nothing"
    return f"erased account {record.user_id}: {rows}"


class Command(BaseCommand):
    help = "Erase one person: every row about them, their cached entries and login sessions (re-runnable)."

    def add_arguments(self, parser):
        parser.add_argument("--username", help="the account to erase")
        parser.add_argument("--resume", action="store_true", help="finish every erasure that stopped midway")
        parser.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")

    def handle(self, *args, username: str | None, resume: bool, yes: bool, **options):
        if not username and not resume:
            raise CommandError("give --username U (or --resume to finish interrupted erasures)")
        if not yes:
            raise CommandError("erasure cannot be undone: add --yes (export first with student_export)")
        records = erasures_resume() if resume else []
        if username:
            student = User.objects.filter(username=username).first()
            if student is None:
                raise CommandError(
                    f"no account {username!r}; if its erasure stopped just before the end, --resume finishes it"
                )
            try:
                records.append(student_erase(student=student, reason=ErasureRecord.Reason.COMMAND))
            except ErasureBlocked as exc:
                raise CommandError(f"cannot erase {username!r}: {exc}") from None
        for record in records:
            self.stdout.write(_summary(record))
            trained = [t["version"] for t in record.trained_model_versions if t.get("version")]
            if trained:
                versions = ", ".join(f"v{v}" for v in trained)
                self.stdout.write(
                    f"  model versions trained with their attempts: {versions} (their weights keep what they "
                    "learned from them; the next training run leaves them out: manage.py metatrain)"
                )
