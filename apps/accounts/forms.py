from django import forms
from django.contrib.auth.password_validation import validate_password

from apps.accounts.models import Role, Team, User
from console.forms import SlugFromNameForm


class UserForm(forms.ModelForm):
    """A person's identity, role and teams; passwords must pass the validators."""

    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(),
        required=False,
        help_text="Hold Ctrl or Cmd to choose several.",
    )
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = User
        fields = [
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "teams",
            "is_active",
        ]
        labels = {"is_active": "Active"}
        help_texts = {
            "username": "Used to sign in. Letters, digits and @ . + - _ only.",
            "is_active": "Inactive users cannot sign in; their history stays.",
        }

    def _post_clean(self):
        # The similarity validator compares the password with the names and email,
        # which reach the instance only here.
        super()._post_clean()
        password = self.cleaned_data.get("password")
        if password:
            try:
                validate_password(password, self.instance)
            except forms.ValidationError as exc:
                self.add_error("password", exc)


class UserEditForm(UserForm):
    password = forms.CharField(
        required=False,
        strip=False,
        label="New password",
        help_text="Left empty, the password stays as it is.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta(UserForm.Meta):
        # Usernames name people in the audit log, so they are not renamed here.
        fields = [name for name in UserForm.Meta.fields if name != "username"]


class UserFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    role = forms.ChoiceField(choices=[("", "All roles"), *Role.choices], required=False)
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="All teams"
    )
    status = forms.ChoiceField(
        choices=[("active", "Active"), ("inactive", "Inactive"), ("all", "All")],
        required=False,
    )

    def __init__(self, *args, **kwargs):
        # The new-user form on the same page has a "role" field too.
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)


class TeamForm(SlugFromNameForm):
    noun = "team"

    class Meta:
        model = Team
        fields = ["name", "slug"]


class MemberAddForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.none(), empty_label="Choose a user", label="Add a member"
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True).exclude(
            memberships__team=team
        )
