import re
from decimal import Decimal

from django import forms

from apps.connectors.models import Connection
from apps.keyrequests import services
from apps.keyrequests.models import KeyRequest, RequestState
from apps.projects.models import Environment, Project
from apps.vault.models import Vendor


class ModelNamesField(forms.CharField):
    """Model names separated by commas or new lines, cleaned to a list."""

    def to_python(self, value):
        text = super().to_python(value)
        return [name for name in re.split(r"[,\s]+", text) if name]

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value


class KeyRequestForm(forms.ModelForm):
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), empty_label="Choose a project"
    )
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.none(),
        empty_label="Choose an environment",
        help_text="One of the chosen project's environments.",
    )
    vendor = forms.ChoiceField(choices=[("", "Choose a vendor"), *Vendor.choices])
    allowed_models = ModelNamesField(
        required=False,
        label="Allowed models",
        help_text="Comma-separated model names; empty allows any model the "
        "environment's policy allows.",
    )
    monthly_cap_usd = forms.DecimalField(
        label="Monthly cap (USD)",
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        help_text="Optional; in the future.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = KeyRequest
        fields = [
            "project",
            "environment",
            "vendor",
            "allowed_models",
            "monthly_cap_usd",
            "expires_at",
            "justification",
        ]
        widgets = {"justification": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = services.requestable_projects(user)
        self.fields["environment"].queryset = services.requestable_environments(user)


class ApproveForm(forms.Form):
    """Approve, and optionally issue at once by pasting the secret."""

    # The secret is never rendered back into the page, even when the form is invalid.
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Optional: paste the key you created at the vendor to issue it now.",
    )
    name = forms.CharField(required=False, max_length=100, label="Key name")
    vendor_key_id = forms.CharField(
        required=False, max_length=200, label="Vendor key id"
    )

    def clean(self):
        data = super().clean()
        if data.get("secret") and not data.get("name"):
            self.add_error("name", "Name the key to issue it.")
        return data


class IssueForm(forms.Form):
    """Issue by pasting the secret, or by having the vendor create the key.

    ``vendor`` is the request's vendor; ``creates`` says whether Keyhold can create
    keys there, which adds the vendor project to the form.
    """

    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    name = forms.CharField(max_length=100, label="Key name")
    vendor_key_id = forms.CharField(
        required=False, max_length=200, label="Vendor key id"
    )
    connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(), required=False, empty_label="None"
    )
    vendor_project_id = forms.CharField(
        required=False,
        max_length=200,
        label="Vendor project",
        widget=forms.TextInput(attrs={"list": "vendor-projects"}),
        help_text="Where the vendor creates the key: type its id or pick one your "
        "connections have listed.",
    )

    def __init__(self, *args, vendor, creates, **kwargs):
        super().__init__(*args, **kwargs)
        self.creates = creates
        connection = self.fields["connection"]
        connection.queryset = Connection.objects.filter(vendor=vendor)
        connection.help_text = "The vendor organization that holds the key."
        if creates:
            self.fields["secret"].help_text = (
                "Paste the key you created at the vendor, or leave this empty and "
                "choose a connection: Keyhold then creates the key there."
            )
        else:
            del self.fields["vendor_project_id"]

    def clean(self):
        data = super().clean()
        if data.get("secret"):
            return data
        if not self.creates:
            self.add_error("secret", self.fields["secret"].error_messages["required"])
        elif not data.get("connection"):
            self.add_error(
                "secret", "Paste the secret, or choose a connection to create it."
            )
        elif not data.get("vendor_project_id"):
            self.add_error(
                "vendor_project_id", "Give the vendor project to create the key in."
            )
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, required=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required


class RequestFilterForm(forms.Form):
    state = forms.ChoiceField(
        choices=[("", "All states"), *RequestState.choices], required=False
    )
