from django import forms

from apps.accounts.models import Team
from apps.projects.models import DEFAULT_MAX_TIER, Environment, Project, Tier
from console.forms import SlugFromNameForm


class ProjectForm(SlugFromNameForm):
    noun = "project"
    # Project pages live at /projects/<slug>/, beside these fixed paths.
    reserved_slugs = frozenset({"new", "environments"})

    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), empty_label="Choose a team"
    )

    class Meta:
        model = Project
        fields = ["name", "slug", "team", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class EnvironmentForm(forms.ModelForm):
    max_tier = forms.ChoiceField(
        choices=[("", "Default for the kind"), *Tier.choices],
        required=False,
        label="Highest model tier",
        help_text="Default: premium in production, standard in staging, "
        "economy in development.",
    )

    class Meta:
        model = Environment
        fields = ["name", "kind", "max_tier", "max_key_age_days"]
        labels = {"max_key_age_days": "Maximum key age (days)"}
        help_texts = {
            "max_key_age_days": "Keys older than this must be rotated; empty: no limit."
        }

    def __init__(self, *args, project=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project or self.instance.project

    def clean_max_tier(self):
        return self.cleaned_data["max_tier"] or DEFAULT_MAX_TIER.get(
            self.cleaned_data.get("kind"), Tier.ECONOMY
        )

    def clean_name(self):
        name = self.cleaned_data["name"]
        siblings = Environment.objects.filter(project=self.project, name=name)
        if siblings.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                f"{self.project.name} already has an environment named “{name}”."
            )
        return name


class ProjectFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    status = forms.ChoiceField(
        choices=[("active", "Active"), ("archived", "Archived"), ("all", "All")],
        required=False,
    )

    def __init__(self, *args, teams, **kwargs):
        # Its own ids: the page also holds the project form, with its own "team".
        super().__init__(*args, auto_id="filter-%s", **kwargs)
        self.fields["team"].queryset = teams
