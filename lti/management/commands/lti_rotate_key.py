from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lti.services import tool_key_rotate


class Command(BaseCommand):
    help = (
        "Make a new LTI signing key. The old key stays in /.well-known/jwks.json for the grace period "
        "(LTI_KEY_GRACE_DAYS) so platforms holding a cached keyset keep working; older retired keys are deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace-days",
            type=int,
            default=None,
            help=f"Keep retired keys this many days (default {settings.LTI_KEY_GRACE_DAYS})",
        )

    def handle(self, *args, grace_days: int | None, **options):
        if grace_days is not None and grace_days < 0:
            raise CommandError("--grace-days must be 0 or more")
        grace = dt.timedelta(days=grace_days) if grace_days is not None else None
        key, deleted = tool_key_rotate(grace=grace)
        self.stdout.write(f"New signing key {key.kid}; {deleted} key(s) past their grace period deleted.")
