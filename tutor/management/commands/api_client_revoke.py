from django.core.management.base import BaseCommand, CommandError

from tutor.models import ApiClient
from tutor.services import api_client_revoke


class Command(BaseCommand):
    help = "Revoke an API client: its token stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--name", required=True, help="the client's name")

    def handle(self, *args, org: str, name: str, **options):
        client = ApiClient.objects.filter(organisation__slug=org, name=name).first()
        if client is None:
            raise CommandError(f"no API client {name!r} in organisation {org!r}")
        api_client_revoke(client=client)
        self.stdout.write(
            f"revoked API client {client.name!r} ({client.key_id}) of {org} at {client.revoked_at:%Y-%m-%d %H:%M}"
        )
