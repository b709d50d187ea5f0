from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def any_running(runs) -> bool:
    return any(r.status in ("queued", "running") for r in runs)
