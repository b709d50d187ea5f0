"""LTI reads: the tool's public keyset."""

from __future__ import annotations

import datetime as dt
import typing as t

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from pylti1p3.registration import Registration

from .models import ToolKey


def tool_jwks(*, now: dt.datetime | None = None) -> dict[str, list[t.Mapping[str, t.Any]]]:
    """The current key and keys retired less than LTI_KEY_GRACE_DAYS ago, as a JWKS (public parts only)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.LTI_KEY_GRACE_DAYS)
    keys = ToolKey.objects.filter(Q(retired_at__isnull=True) | Q(retired_at__gt=cutoff)).order_by("-created_at")
    return {"keys": [Registration.get_jwk(key.public_key_pem) for key in keys]}
