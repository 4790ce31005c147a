"""Record sign-ins, sign-outs, failed sign-ins and lockouts in the audit log."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.dispatch import receiver

from apps.audit.services import Actor, record


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs):
    record(Actor(user=user, ip=_ip(request)), "auth.login", target=user)


@receiver(user_logged_out)
def record_logout(sender, request, user, **kwargs):
    if user is not None:
        record(Actor(user=user, ip=_ip(request)), "auth.logout", target=user)


@receiver(user_login_failed)
def record_login_failed(sender, credentials, request=None, **kwargs):
    # Only the username is kept: credentials also hold the password that was tried.
    username = str(credentials.get("username", ""))[:150]
    record(Actor(ip=_ip(request)), "auth.login_failed", username=username)


@receiver(user_locked_out)
def record_locked_out(sender, request, username, ip_address, **kwargs):
    record(Actor(ip=ip_address), "auth.locked_out", username=str(username)[:150])


def _ip(request):
    return request.META.get("REMOTE_ADDR") if request is not None else None
