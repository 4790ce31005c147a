"""Form pieces shared by the console's apps."""

from django import forms
from django.utils.text import slugify


class SlugFromNameForm(forms.ModelForm):
    """A model form whose optional ``slug`` is made from ``name`` when left empty.

    Subclasses name what they edit (``noun``) and the slugs their URLs already use
    for fixed pages (``reserved_slugs``).
    """

    noun = "object"
    reserved_slugs: frozenset[str] = frozenset({"new"})

    slug = forms.SlugField(
        required=False, help_text="Used in URLs. Left empty, it is made from the name."
    )

    def clean_slug(self):
        slug = self.cleaned_data.get("slug") or slugify(self.data.get("name", ""))
        if not slug:
            raise forms.ValidationError(
                f"Give the {self.noun} a name made of letters or digits."
            )
        if slug in self.reserved_slugs:
            raise forms.ValidationError(f"“{slug}” is reserved: choose another slug.")
        model = self._meta.model
        if model.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                f"The slug “{slug}” is taken by another {self.noun}: choose another."
            )
        return slug
