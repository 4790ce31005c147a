"""The leak check page: paste a text or upload a file, see which keys it holds."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.template.defaultfilters import filesizeformat
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from apps.audit.services import Actor
from apps.vault import leaks
from console.htmx import render_page

LIMIT = filesizeformat(leaks.MAX_TEXT_BYTES)


class BlankTextarea(forms.Textarea):
    """A textarea that never renders the submitted text back into the page."""

    def format_value(self, value):
        return None


class LeakCheckForm(forms.Form):
    text = forms.CharField(
        required=False,
        strip=False,
        label="Text to check",
        widget=BlankTextarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="A log excerpt, a configuration file, a chat message.",
    )
    file = forms.FileField(
        required=False,
        label="Or a file",
        help_text=f"Up to {LIMIT}, read as UTF-8.",
    )

    def clean_text(self):
        text = self.cleaned_data["text"]
        if len(text.encode()) > leaks.MAX_TEXT_BYTES:
            raise forms.ValidationError(
                f"The leak check reads at most {LIMIT}: paste a shorter excerpt."
            )
        return text

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload is None:
            return ""
        if upload.size > leaks.MAX_TEXT_BYTES:
            raise forms.ValidationError(
                f"This file is {filesizeformat(upload.size)} and the leak check reads "
                f"at most {LIMIT}: upload the part you want checked."
            )
        return upload.read().decode("utf-8", errors="replace")

    def clean(self):
        text, content = self.cleaned_data.get("text"), self.cleaned_data.get("file")
        if text and content:
            raise forms.ValidationError("Paste a text or choose a file, not both.")
        if not (text or content) and not self.errors:
            raise forms.ValidationError("Paste a text or choose a file to check.")
        return {"text": text or content}


class InMemoryUpload(MemoryFileUploadHandler):
    """Keep an upload in memory whatever its size, and stop storing past the limit.

    Django's own handlers spill large uploads into a temporary file, and a pasted
    log may hold live keys. The upload keeps its full size, so the form can refuse it.
    """

    def handle_raw_input(self, *args, **kwargs):
        self.activated = True

    def receive_data_chunk(self, raw_data, start):
        room = leaks.MAX_TEXT_BYTES + 1 - self.file.tell()
        if room > 0:
            self.file.write(raw_data[:room])


# csrf_exempt only defers the check: upload handlers must be in place before
# anything reads the body, and CsrfViewMiddleware would read it first.
@csrf_exempt
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def leak_check(request):
    if not request.user.is_admin:
        raise PermissionDenied("Only admins can run the leak check.")
    request.upload_handlers = [InMemoryUpload(request)]
    return _checked_leak_check(request)


@csrf_protect
def _checked_leak_check(request):
    form = LeakCheckForm(request.POST or None, request.FILES or None)
    findings = None
    if form.is_valid():
        findings = leaks.check_text(
            Actor.from_request(request), form.cleaned_data["text"]
        )
    in_vault = sum(finding.in_vault for finding in findings or [])
    ctx = {
        "form": form,
        "findings": findings,
        "in_vault": in_vault,
        "unknown": len(findings or []) - in_vault,
    }
    return render_page(request, "vault/leak_check.html", ctx, "leak-check-panel")
